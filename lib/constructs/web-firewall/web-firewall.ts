import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { throwIfInvalid } from '../settings-validation.ts';
import { WEB_FIREWALL_DEFAULTS } from './web-firewall-defaults.ts';
import { validateWebFirewallSettings } from './validate-web-firewall-settings.ts';

/** The tunable settings of the web application firewall in front of the load balancer. */
export interface WebFirewallSettings {
  /**
   * Put an AWS WAF web ACL in front of the internet-facing load balancer: AWS managed rules (common
   * rule set, known bad inputs, IP reputation) and a per-IP rate limit.
   * @default false — about $9 a month (the web ACL $5, four rules $1 each) plus $0.60 per million requests; prod turns it on
   */
  readonly webFirewall?: boolean;
  /**
   * Requests one client IP address may make in 5 minutes before the firewall blocks its further
   * requests, until its rate falls below the limit (AWS WAF allows 10 to 2,000,000,000).
   * @default 1000 — about 3 requests a second for 5 minutes on end, far above a person using the app, well below a script flooding it
   */
  readonly webFirewallRateLimit?: number;
  /**
   * Requests the firewall blocks within 5 minutes above which the blocked-requests alarm fires.
   * @default 300 — see WEB_FIREWALL_DEFAULTS
   */
  readonly blockedRequestsThreshold?: number;
}

export interface WebFirewallProps extends WebFirewallSettings {
  /** The internet-facing load balancer the web ACL protects. */
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /**
   * The path the load balancer's health check and uptime monitors request; the firewall always lets
   * GET requests for exactly this path through.
   */
  readonly healthCheckPath: string;
  /** The web ACL's name and CloudWatch metric name, unique in the account and region, e.g. `sluice-dev`. */
  readonly name: string;
}

/** The rules of the web ACL, in the order WAF evaluates them (priority). */
const MANAGED_RULE_GROUPS = [
  // Requests from addresses Amazon threat intelligence lists as bots and attackers: cheapest to drop first.
  'AWSManagedRulesAmazonIpReputationList',
  // OWASP-style protection: cross-site scripting, path traversal, oversized bodies, bad user agents.
  'AWSManagedRulesCommonRuleSet',
  // Request patterns known to exploit vulnerabilities (Log4j, Java deserialization, …).
  'AWSManagedRulesKnownBadInputsRuleSet',
] as const;

/**
 * A regional AWS WAF web ACL on the load balancer: the health check path always allowed, then AWS
 * managed rule groups and a per-IP rate limit, each with its CloudWatch metrics.
 */
export class WebFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  /** The web ACL's metric name: the `WebACL` dimension of its metrics in AWS/WAFV2. */
  public readonly metricName: string;
  /** In ALARM while the firewall blocks more than blockedRequestsThreshold requests in 5 minutes. */
  public readonly blockedRequestsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: WebFirewallProps) {
    super(scope, id);
    throwIfInvalid('web firewall', validateWebFirewallSettings(props));
    this.metricName = props.name;
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      // Sampled requests (the last 3 hours, in the console) show why a request was blocked, at no charge.
      sampledRequestsEnabled: true,
    });

    // --- rules ---------------------------------------------------------------------------------
    // Priority 0 allows the health check path before any other rule sees it. The load balancer's own
    // health checks go from its nodes straight to the targets and never pass the web ACL; what does is
    // an uptime monitor or a person checking `GET /health` from outside, and neither the rate limit (a
    // monitor behind one shared address) nor a managed rule's false positive may make the service look
    // down. Only GET of exactly that path (no query string is part of a URI path): nothing else
    // reaches the app through this rule, and the health check reads no body or parameters.
    const allowHealthCheck: wafv2.CfnWebACL.RuleProperty = {
      name: 'AllowHealthCheck',
      priority: 0,
      action: { allow: {} },
      statement: {
        andStatement: {
          statements: [
            { byteMatchStatement: { fieldToMatch: { uriPath: {} }, positionalConstraint: 'EXACTLY', searchString: props.healthCheckPath, textTransformations: [{ priority: 0, type: 'NONE' }] } },
            { byteMatchStatement: { fieldToMatch: { method: {} }, positionalConstraint: 'EXACTLY', searchString: 'GET', textTransformations: [{ priority: 0, type: 'NONE' }] } },
          ],
        },
      },
      visibilityConfig: visibility(`${props.name}-AllowHealthCheck`),
    };
    const managedRules: wafv2.CfnWebACL.RuleProperty[] = MANAGED_RULE_GROUPS.map((group, index) => ({
      name: group,
      priority: index + 1,
      // The groups' own actions (block); `none` keeps them, `count` would only observe.
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: group } },
      visibilityConfig: visibility(`${props.name}-${group}`),
    }));
    const rateLimit: wafv2.CfnWebACL.RuleProperty = {
      name: 'RateLimitPerIp',
      priority: MANAGED_RULE_GROUPS.length + 1,
      action: { block: {} },
      statement: {
        rateBasedStatement: {
          limit: props.webFirewallRateLimit ?? WEB_FIREWALL_DEFAULTS.webFirewallRateLimit,
          // The load balancer is the first hop: the client address is the connection's, not a header's.
          aggregateKeyType: 'IP',
          evaluationWindowSec: 300,
        },
      },
      visibilityConfig: visibility(`${props.name}-RateLimitPerIp`),
    };

    // --- web ACL -------------------------------------------------------------------------------
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      description: `sluice web application firewall of the ${props.name} load balancer`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      rules: [allowHealthCheck, ...managedRules, rateLimit],
      visibilityConfig: visibility(props.name),
    });
    new wafv2.CfnWebACLAssociation(this, 'LoadBalancerAssociation', {
      resourceArn: props.loadBalancer.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });

    // --- alarm ---------------------------------------------------------------------------------
    // One 5-minute period: a surge is worth a look at once (why the threshold: WEB_FIREWALL_DEFAULTS).
    // Not part of the release gate: an attack is not the release's doing, and a gate held open by a
    // flood would stop the very release that responds to it. The stack puts it on the alarm topic
    // with the stage's other alarms (monitoring.addAlarm).
    this.blockedRequestsAlarm = new cloudwatch.Alarm(this, 'BlockedRequests', {
      metric: this.metricBlockedRequests(),
      threshold: props.blockedRequestsThreshold ?? WEB_FIREWALL_DEFAULTS.blockedRequestsThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No blocked request means no data point.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'The web firewall blocks a surge of requests: an attack, or a rule blocking real users (see its sampled requests).',
    });
  }

  /** Requests the web ACL blocked, by any rule, per 5 minutes. */
  metricBlockedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BlockedRequests', 'ALL', props);
  }

  /** Requests the web ACL allowed (the health check rule and the default action), per 5 minutes. */
  metricAllowedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('AllowedRequests', 'ALL', props);
  }

  /** Requests one rule blocked, per 5 minutes: a managed rule group's name or `RateLimitPerIp`. */
  metricBlockedRequestsOfRule(rule: (typeof MANAGED_RULE_GROUPS)[number] | 'RateLimitPerIp', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BlockedRequests', `${this.metricName}-${rule}`, props);
  }

  /** The dashboard's row for the firewall: the blocked-requests alarm, allowed against blocked, and blocked by rule. */
  dashboardWidgets(): cloudwatch.IWidget[] {
    return [
      new cloudwatch.AlarmWidget({ alarm: this.blockedRequestsAlarm, title: 'Web firewall: blocked requests', width: 8, height: 6 }),
      new cloudwatch.GraphWidget({
        title: 'Web firewall: allowed and blocked requests',
        left: [this.metricAllowedRequests({ label: 'allowed' }), this.metricBlockedRequests({ label: 'blocked' })],
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Web firewall: blocked requests by rule',
        left: [...MANAGED_RULE_GROUPS, 'RateLimitPerIp' as const].map((rule) => this.metricBlockedRequestsOfRule(rule, { label: rule })),
        stacked: true,
        width: 8,
        height: 6,
      }),
    ];
  }

  private metric(metricName: string, rule: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/WAFV2',
      metricName,
      // A regional web ACL's metrics carry its region; `ALL` is the web ACL's total over its rules.
      dimensionsMap: { WebACL: this.metricName, Region: Stack.of(this).region, Rule: rule },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...props,
    });
  }
}
