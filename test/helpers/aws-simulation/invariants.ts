// Ready-made invariants for `simulation.invariants.add(name, check)`.
import type { InvariantCheck, SimulationSnapshot } from './simulation-log.ts';

/** The load balancer always has at least `minimum` healthy targets. */
export function healthyTargetsAtLeast(minimum: number): InvariantCheck {
  return (snapshot) => {
    const healthy = snapshot.targets.filter((target) => target.state === 'healthy').length;
    return healthy < minimum ? `${healthy} healthy target${healthy === 1 ? '' : 's'}, fewer than ${minimum}` : undefined;
  };
}

/** At most `maximum` running instances are out of service (anything but a healthy target). */
export function targetsOutOfServiceAtMost(maximum: number): InvariantCheck {
  return (snapshot) => {
    const out = outOfService(snapshot);
    return out.length > maximum ? `${out.length} instances out of service (${out.join(', ')}), more than ${maximum}` : undefined;
  };
}

/**
 * No target the load balancer sends requests to (healthy, or draining with requests in flight) has its
 * app stopped: that is what installing on a target that was not drained first looks like, seen before
 * the health checks notice. Terminated instances are left out: losing one is a fault, not the release.
 */
export function noTrafficToStoppedApps(): InvariantCheck {
  return (snapshot) => {
    const broken = snapshot.targets.filter((target) => {
      const instance = snapshot.instances.find((candidate) => candidate.id === target.id);
      return (target.state === 'healthy' || target.state === 'draining') && instance?.running === true && !instance.appUp;
    });
    return broken.length > 0 ? `requests to ${broken.map((target) => `${target.id} (${target.state})`).join(', ')} fail: the app is stopped` : undefined;
  };
}

function outOfService(snapshot: SimulationSnapshot): string[] {
  return snapshot.instances
    .filter((instance) => instance.running)
    .filter((instance) => snapshot.targets.find((target) => target.id === instance.id)?.state !== 'healthy')
    .map((instance) => instance.id);
}

/** Instances out of service all sit in one Availability Zone: a zone-by-zone release never has two in flight. */
export function outOfServiceInOneZone(): InvariantCheck {
  return (snapshot) => {
    const out = outOfService(snapshot);
    const zones = [...new Set(out.map((id) => snapshot.instances.find((instance) => instance.id === id)?.availabilityZone))].sort();
    return zones.length > 1 ? `instances out of service in ${zones.length} zones at once (${zones.join(', ')}): ${out.join(', ')}` : undefined;
  };
}
