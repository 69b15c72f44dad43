// Temporary experiment: CPU profile of idle agents (db1 up on node1) for 60 s.
import * as lab from "./lab.js";
import { installEverywhere } from "./db1-units.js";
import { compileAgentUnits, initLease, installAgent, startAgent, startWatchdog, upOn } from "./agent-setup.js";

const log = (m: string) => process.stderr.write(`exp: ${m}\n`);
await lab.bringUp({ log });
const wd = startWatchdog();
try {
  await installEverywhere(compileAgentUnits("ha"));
  for (const n of lab.NODES) await installAgent(n, {}, "[Service]\nEnvironment=NODE_OPTIONS=--cpu-prof\\x20--cpu-prof-dir=/var/tmp/agentprof\n");
  await initLease();
  for (const n of lab.NODES) await startAgent(n);
  await upOn("node1", 90_000);
  log("db1 up on node1; idle 60 s");
  await new Promise((r) => setTimeout(r, 60_000));
  for (const n of lab.NODES) await lab.exec(n, ["systemctl", "kill", "-s", "SIGUSR2", "svcc-agent.service"]).catch(() => undefined);
  await lab.exec("node1", ["svcc-noop"]).catch(() => undefined);
  for (const n of lab.NODES) {
    const r = await lab.exec(n, ["sh", "-c", "systemctl stop svcc-agent.service; ls -la /var/tmp/agentprof; mkdir -p /tmp/agentprof-out && cp /var/tmp/agentprof/*.cpuprofile /tmp/"]);
    log(`${n}: ${r.stdout} ${r.stderr}`);
    const { cpSync, readdirSync } = await import("node:fs");
    const root = `/proc/${lab.nodePid(n)}/root/var/tmp/agentprof`;
    for (const f of readdirSync(root)) cpSync(`${root}/${f}`, `/tmp/agentprof-${n}-${f}`);
  }
} finally {
  await wd.stop();
  await lab.tearDown({ log });
}
