// npm run bench (as root, unless BENCH_ETCD=0): the etcd lease store at scale. 1,000 services
// over 50 simulated agents (in-process: each one the real EtcdLeaseStore with its own etcd
// client, renewing, electing and publishing as the agent does; no systemd, no containers)
// against a 3-member etcd started in a network namespace this bench creates (reached through
// unix sockets; nothing in the machine's own namespace). Measured: steady-state requests/s as
// etcd counts them, memory per agent, and the time for every service of a killed node to be
// held elsewhere, against the TTL. Every wait is bounded. Prints one JSON figure per line.

import { request } from "node:http";
import { Etcd3 } from "etcd3";
import { minimumTtlSeconds } from "../src/fence/config.js";
import { systemClock } from "../src/fence/clock.js";
import { EtcdLeaseStore } from "../src/fence/lease/etcd-store.js";
import { defaultTimings } from "../src/fence/lease/types.js";
import { EtcdCluster } from "../test/helpers/etcd.js";

const NODES = Number(process.env.BENCH_ETCD_NODES ?? 50);
const SERVICES = Number(process.env.BENCH_ETCD_SERVICES ?? 1000);
const STEADY_MS = 10_000;
const timings = defaultTimings;
const ttlSeconds = minimumTtlSeconds(timings);
const node = (i: number) => `n${String(i).padStart(2, "0")}`;
const service = (i: number) => `s${String(i).padStart(4, "0")}`;
/** Service i may run on its primary node i mod N, then the next one. */
const candidates = (i: number) => [node(i % NODES), node((i + 1) % NODES)];

function figure(name: string, value: number, unit: string) {
  process.stdout.write(`${JSON.stringify({ name, value: Math.round(value * 1000) / 1000, unit })}\n`);
}

/** What an agent does with its store, less systemd: renew every renewMs, take the services it should run, publish "up". */
class SimAgent {
  private timer?: ReturnType<typeof setTimeout>;
  private acting = false;
  private again = false;
  running = true;
  constructor(
    readonly store: EtcdLeaseStore,
    private readonly services: Map<string, string[]>,
  ) {
    store.onChange(() => void this.act());
  }

  /** Joins (retried: on a loaded machine a join's request may outlast its io timeout), then renews. */
  async start() {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.join();
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
    this.loop();
  }

  private loop() {
    if (!this.running) return;
    this.timer = setTimeout(async () => {
      this.loop();
      await this.store.renew();
      await this.act();
    }, timings.renewMs);
  }

  async act(): Promise<void> {
    if (!this.running) return;
    if (this.acting) {
      this.again = true;
      return;
    }
    this.acting = true;
    try {
      do {
        this.again = false;
        const live = this.store.liveNodes();
        const held = this.store.held();
        for (const [s, nodes] of this.services) {
          if (held.has(s)) continue;
          const v = this.store.view(s);
          if (v.holder) continue;
          if (nodes.find((n) => live.has(n)) !== this.store.node) continue;
          const got = await this.store.acquire(s);
          if (got.ok) await this.store.publish(s, { st: "up", tok: got.token }).catch(() => undefined);
        }
      } while (this.again && this.running);
    } finally {
      this.acting = false;
    }
  }

  /** A crash: no release, no revoke; etcd expires its lease after the TTL. */
  async kill() {
    this.running = false;
    clearTimeout(this.timer);
    await this.store.close();
  }
}

/** Every gRPC message etcd's members received (unary requests, stream messages such as keepalives), from /metrics over each member's socket. */
async function etcdMessages(cluster: EtcdCluster): Promise<number> {
  let total = 0;
  for (let i = 0; i < cluster.size; i++) {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: cluster.socket(i), path: "/metrics", timeout: 5000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("metrics timed out")));
      req.end();
    });
    for (const line of text.split("\n")) if (line.startsWith("grpc_server_msg_received_total{")) total += Number(line.split(" ").at(-1));
  }
  return total;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const start = systemClock.now();
  while (!check()) {
    if (systemClock.now() - start > timeoutMs) throw new Error(`etcd scale bench: ${what} did not happen within ${timeoutMs} ms`);
    await systemClock.sleep(20);
  }
  return systemClock.now() - start;
}

async function main() {
  const cluster = await EtcdCluster.start(3);
  const agents: SimAgent[] = [];
  try {
    const prefix = `/bench-${process.pid}/`;
    const perNode = new Map<string, Map<string, string[]>>();
    for (let i = 0; i < SERVICES; i++) for (const n of candidates(i)) (perNode.get(n) ?? perNode.set(n, new Map()).get(n)!).set(service(i), candidates(i));
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < NODES; i++) {
      const services = perNode.get(node(i)) ?? new Map();
      const client = new Etcd3({ hosts: cluster.endpoints(), dialTimeout: 5000 });
      const store = new EtcdLeaseStore({ node: node(i), services: [...services.keys()], clock: systemClock, incarnation: `bench-${i}`, timings, ttlSeconds, prefix, client });
      agents.push(new SimAgent(store, services));
    }
    const joinStart = systemClock.now();
    for (let i = 0; i < agents.length; i += 10) await Promise.all(agents.slice(i, i + 10).map((a) => a.start()));
    await Promise.all(agents.map((a) => a.act()));
    const heldCount = () => agents.filter((a) => a.running).reduce((n, a) => n + a.store.held().size, 0);
    const progress = setInterval(() => process.stderr.write(`etcd scale: ${heldCount()} of ${SERVICES} services held after ${Math.round(systemClock.now() - joinStart)} ms\n`), 10_000);
    try {
      await waitUntil(`all ${SERVICES} services held`, () => heldCount() === SERVICES, 180_000);
    } finally {
      clearInterval(progress);
    }
    figure("etcd_scale_start_all_held", systemClock.now() - joinStart, "ms");

    // Steady state: nothing changes; the agents only renew.
    await systemClock.sleep(2 * timings.renewMs);
    const m0 = await etcdMessages(cluster);
    const t0 = systemClock.now();
    await systemClock.sleep(STEADY_MS);
    const m1 = await etcdMessages(cluster);
    const steady = ((m1 - m0) / (systemClock.now() - t0)) * 1000;
    global.gc?.();
    const perAgent = (process.memoryUsage().rss - rssBefore) / NODES / 1024;
    figure("etcd_scale_nodes", NODES, "agents");
    figure("etcd_scale_services", SERVICES, "services");
    figure("etcd_scale_steady_requests_per_s", steady, "requests/s");
    figure("etcd_scale_memory_per_agent", perAgent, "KiB");

    // A node dies: every service it held must be held elsewhere.
    const victim = agents[0];
    const orphans = [...victim.store.held().keys()];
    await victim.kill();
    const killedAt = systemClock.now();
    const heldElsewhere = (s: string) => agents.some((a) => a.running && a.store.held().has(s));
    const failover = await waitUntil(`${orphans.length} services of a killed node held elsewhere`, () => orphans.every(heldElsewhere), 4 * ttlSeconds * 1000);
    figure("etcd_scale_killed_node_services", orphans.length, "services");
    figure("etcd_scale_failover", failover, "ms");
    figure("etcd_scale_ttl", ttlSeconds * 1000, "ms");
    figure("etcd_scale_failover_vs_ttl", failover / (ttlSeconds * 1000), "ratio");
    void killedAt;
  } finally {
    for (const a of agents) if (a.running) await a.kill().catch(() => undefined);
    await cluster.close();
  }
}

await main();
process.exit(0);
