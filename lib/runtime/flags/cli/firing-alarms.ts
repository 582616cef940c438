// The alarms a ramp watches before each step: the stack's release gate (a composite alarm) and any
// --alarm. A name CloudWatch does not know is an error, never "not firing": a typo must not let a
// ramp through.
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { FlagsCliInputError } from './flags-cli-input-error.ts';

/** DescribeAlarms accepts at most 100 names per request. */
const NAMES_PER_REQUEST = 100;

/** The names among `alarmNames` whose state is ALARM. */
export async function firingAlarms(client: CloudWatchClient, alarmNames: readonly string[]): Promise<string[]> {
  const states = new Map<string, string | undefined>();
  const names = [...new Set(alarmNames)];
  for (let start = 0; start < names.length; start += NAMES_PER_REQUEST) {
    let nextToken: string | undefined;
    do {
      // Without AlarmTypes, DescribeAlarms returns metric alarms only, and the composite gate would look missing.
      const page = await client.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(start, start + NAMES_PER_REQUEST), AlarmTypes: ['CompositeAlarm', 'MetricAlarm'], NextToken: nextToken }));
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) if (alarm.AlarmName) states.set(alarm.AlarmName, alarm.StateValue);
      nextToken = page.NextToken;
    } while (nextToken);
  }
  const missing = names.filter((name) => !states.has(name));
  if (missing.length > 0) throw new FlagsCliInputError(`alarm${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in CloudWatch; check the name (stack output ReleaseGateAlarmName, --alarm) and the region`);
  return names.filter((name) => states.get(name) === 'ALARM');
}
