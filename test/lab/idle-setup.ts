// The idle-agent scripts' common start (ab-idle, prof-idle, trace-idle): db1's units with
// orchestrate=ha on both nodes, an agent on each (optionally with a drop-in for its unit), a
// fresh lease device, and db1 up on node1.

import * as lab from "./lab.js";
import { compileAgentUnits, initLease, installAgent, startAgent, upOn } from "./agent-setup.js";
import { installEverywhere } from "./db1-units.js";

export async function db1UpOnNode1WithAgents(unitDropIn?: string): Promise<void> {
  await installEverywhere(compileAgentUnits("ha"));
  for (const node of lab.NODES) await installAgent(node, {}, unitDropIn);
  await initLease();
  for (const node of lab.NODES) await startAgent(node);
  await upOn("node1", 120_000);
}
