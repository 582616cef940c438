import { SettingsProblems } from '../settings-validation.ts';
import { RATE_LIMIT_RANGE } from './web-firewall-defaults.ts';
import type { WebFirewallSettings } from './web-firewall.ts';

/** Every problem with the web firewall's settings. */
export function validateWebFirewallSettings(settings: WebFirewallSettings): string[] {
  const check = new SettingsProblems();
  if (settings.webFirewall !== undefined && typeof settings.webFirewall !== 'boolean') {
    check.add(`webFirewall must be true or false (given ${JSON.stringify(settings.webFirewall)})`);
  }
  check.wholeNumber('webFirewallRateLimit', settings.webFirewallRateLimit, RATE_LIMIT_RANGE.min, RATE_LIMIT_RANGE.max, 'requests per 5 minutes per IP address');
  check.wholeNumber('blockedRequestsThreshold', settings.blockedRequestsThreshold, 1, 1_000_000_000, 'requests per 5 minutes');
  return [...check.list];
}
