// The app's feature flags: the one place a flag is declared. The stack deploys them with AppConfig
// (lib/constructs/feature-flags), the web app reads them with the flags client (lib/runtime/flags),
// and `sluice flags` changes them. Adding a flag here ships it dark (default false) with the next deploy.
import type { FlagDefinition } from '../flags/flag-definition.ts';

export const appFlags: readonly FlagDefinition[] = [
  {
    name: 'jobs-batch-submit',
    description: 'POST /jobs also accepts an array of up to 10 work items and enqueues them in one SendMessageBatch.',
    owner: 'platform',
    kind: 'rollout',
    default: false,
    percentage: 0,
  },
];
