// Before anything of the service is touched, no service address may already answer on the
// network (another node still runs the service, or a foreign host took the address). This
// unit comes first in the start order; if it fails, the start aborts with nothing changed.

import type { ResolvedService } from "../model.js";
import type { PlannedResource } from "../plan.js";
import { add, commandLine, describe, newUnit, type Unit } from "../unit.js";
import { header, seconds } from "./service-spec.js";

const precheckTimeouts = { start: 15_000, stop: 5_000 };
/** precheck_wait is split between this many probes (see src/runtime/arp.ts for why several). */
const precheckProbes = 3;

export function precheckUnit(service: ResolvedService, order: PlannedResource[], svccBin: string): Unit | undefined {
  const byDevice = new Map<string, string[]>();
  for (const { resource, noAction } of order) {
    if (resource.group !== "ip" || noAction) continue;
    const dev = String(resource.values.dev);
    byDevice.set(dev, [...(byDevice.get(dev) ?? []), String(resource.values.name)]);
  }
  if (byDevice.size === 0) return undefined;
  const unit = newUnit(`${service.name}-precheck.service`, header(service));
  const addresses = [...byDevice.values()].flat();
  add(unit, "Unit", "Description", describe(`${service.name} precheck: service addresses ${addresses.join(", ")} must be free`));
  add(unit, "Service", "Type", "oneshot");
  add(unit, "Service", "RemainAfterExit", "yes");
  for (const [dev, addrs] of byDevice) {
    const probes = ["--probes", String(precheckProbes), "--interval-ms", String(Math.round(service.precheckWaitMs / precheckProbes))];
    add(unit, "Service", "ExecStart", commandLine([svccBin, "res", "ip-check-free", "--dev", dev, ...addrs.flatMap((a) => ["--addr", a]), ...probes]));
  }
  add(unit, "Service", "TimeoutStartSec", seconds(precheckTimeouts.start));
  add(unit, "Service", "TimeoutStopSec", seconds(precheckTimeouts.stop));
  return unit;
}
