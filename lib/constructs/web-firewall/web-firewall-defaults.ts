import type { WebFirewallSettings } from './web-firewall.ts';

/** The web firewall's defaults, read by the construct and its validator. Why each value: see WebFirewallSettings. */
export const WEB_FIREWALL_DEFAULTS: Readonly<Required<WebFirewallSettings>> = {
  webFirewall: false,
  webFirewallRateLimit: 1000,
  // A public load balancer draws a steady trickle of scanners that the managed rules block: a few to a
  // few dozen requests in 5 minutes. Hundreds in 5 minutes is either an attack worth watching or,
  // just as likely after a release, a rule blocking real users' requests (a new field the common rule
  // set dislikes): someone should look at the sampled requests either way.
  blockedRequestsThreshold: 300,
};

/** What AWS WAF accepts as a rate-based rule's limit. */
export const RATE_LIMIT_RANGE = { min: 10, max: 2_000_000_000 } as const;
