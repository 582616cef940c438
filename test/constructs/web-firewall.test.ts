import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { describe, expect, it } from 'vitest';
import { WebFirewall, type WebFirewallSettings } from '../../lib/constructs/web-firewall/web-firewall.ts';
import { testApp } from '../helpers/synth.ts';

function firewallStack(settings: WebFirewallSettings = {}) {
  const stack = new Stack(testApp(), 'TestStack');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'LoadBalancer', { vpc, internetFacing: true });
  const firewall = new WebFirewall(stack, 'WebFirewall', {
    ...settings,
    name: 'sluice-test',
    loadBalancer,
    healthCheckPath: '/health',
  });
  return { firewall, template: Template.fromStack(stack) };
}

type Rule = { Name: string; Priority: number; Action?: unknown; OverrideAction?: unknown; Statement: Record<string, any> };

describe('WebFirewall', () => {
  const { firewall, template } = firewallStack();
  const webAcl = Object.values(template.findResources('AWS::WAFv2::WebACL'))[0].Properties;
  const rules = [...(webAcl.Rules as Rule[])].sort((a, b) => a.Priority - b.Priority);

  it('is a regional web ACL on the load balancer that lets through whatever no rule blocks', () => {
    expect(webAcl).toMatchObject({ Name: 'sluice-test', Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { Ref: Match.stringLikeRegexp('^LoadBalancer') },
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebFirewallWebAcl'), 'Arn'] },
    });
  });

  it('allows GET of exactly the health check path before any rule that could block it', () => {
    expect(rules[0]).toMatchObject({ Name: 'AllowHealthCheck', Action: { Allow: {} } });
    expect(rules[0].Statement.AndStatement.Statements).toEqual([
      { ByteMatchStatement: { FieldToMatch: { UriPath: {} }, PositionalConstraint: 'EXACTLY', SearchString: '/health', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
      { ByteMatchStatement: { FieldToMatch: { Method: {} }, PositionalConstraint: 'EXACTLY', SearchString: 'GET', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
    ]);
    // Allow ends evaluation: the managed rules and the rate limit come after it.
    expect(rules.slice(1).every((rule) => rule.Priority > rules[0].Priority)).toBe(true);
  });

  it('blocks with the AWS managed rule groups: IP reputation, common rule set, known bad inputs', () => {
    const managed = rules.filter((rule) => rule.Statement.ManagedRuleGroupStatement);
    expect(managed.map((rule) => rule.Statement.ManagedRuleGroupStatement)).toEqual([
      { VendorName: 'AWS', Name: 'AWSManagedRulesAmazonIpReputationList' },
      { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' },
      { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' },
    ]);
    // Their own block actions, not count-only.
    for (const rule of managed) expect(rule.OverrideAction).toEqual({ None: {} });
  });

  it('blocks an IP address above 1000 requests in 5 minutes by default, or the configured limit', () => {
    expect(rules.at(-1)).toMatchObject({ Name: 'RateLimitPerIp', Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 1000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } });
    const strict = Object.values(firewallStack({ webFirewallRateLimit: 200 }).template.findResources('AWS::WAFv2::WebACL'))[0].Properties.Rules as Rule[];
    expect(strict.find((rule) => rule.Name === 'RateLimitPerIp')?.Statement.RateBasedStatement.Limit).toBe(200);
  });

  it('publishes metrics and sampled requests for the web ACL and each rule', () => {
    for (const config of [webAcl.VisibilityConfig, ...rules.map((rule) => (rule as unknown as { VisibilityConfig: unknown }).VisibilityConfig)]) {
      expect(config).toMatchObject({ CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true });
    }
    expect(webAcl.VisibilityConfig.MetricName).toBe('sluice-test');
  });

  it('alarms on the alarm topic when more than 300 requests are blocked in 5 minutes, or the configured threshold', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/WAFV2',
      MetricName: 'BlockedRequests',
      Dimensions: [{ Name: 'Region', Value: { Ref: 'AWS::Region' } }, { Name: 'Rule', Value: 'ALL' }, { Name: 'WebACL', Value: 'sluice-test' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    firewallStack({ blockedRequestsThreshold: 50 }).template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'BlockedRequests', Threshold: 50 });
  });

  it('offers dashboard widgets: the alarm, allowed against blocked, and blocked per rule', () => {
    const widgets = firewall.dashboardWidgets();
    expect(widgets).toHaveLength(3);
    const rendered = JSON.stringify(Stack.of(firewall).resolve(widgets.map((widget) => widget.toJson())));
    expect(rendered).toContain('AllowedRequests');
    for (const rule of ['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'RateLimitPerIp']) {
      expect(rendered).toContain(`sluice-test-${rule}`);
    }
  });

  it('refuses a rate limit WAF does not accept and a threshold that is not a count, listing both', () => {
    expect(() => firewallStack({ webFirewallRateLimit: 5, blockedRequestsThreshold: 0.5 })).toThrow(
      'Invalid web firewall settings:\n'
        + '  - webFirewallRateLimit must be a whole number between 10 and 2000000000 requests per 5 minutes per IP address (given 5)\n'
        + '  - blockedRequestsThreshold must be a whole number between 1 and 1000000000 requests per 5 minutes (given 0.5)',
    );
  });
});
