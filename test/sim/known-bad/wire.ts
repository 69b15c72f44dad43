// Wires svcc 0.1's store into a simulated machine: its slot of the shared disk, the cluster's nodes.

import type { SimDisk } from "../disk.js";
import type { SimMachine } from "../machine.js";
import type { ProcessClock } from "../world.js";
import { V1Store } from "./adapter.js";

export function v1Store(machine: SimMachine, clock: ProcessClock, _disk: SimDisk): V1Store {
  const nodes = machine.descs[0].nodes;
  return new V1Store(machine.path.device(clock), nodes, machine.node, clock, machine.timings, machine.incarnation, machine.descs.map((d) => d.service));
}
