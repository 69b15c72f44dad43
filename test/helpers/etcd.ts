// A real etcd (Debian's etcd-server) for tests: 1 or 3 members in a network namespace the
// test creates, members talking over the namespace's own loopback. The test process reaches
// each member through a unix socket in a temporary directory (a filesystem socket crosses
// network namespaces), so nothing is added to the machine's own network namespace. Every
// member is ended by its PID; the namespace and directory are removed on close().

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD = "/usr/bin/etcd";

/** Fails loudly when etcd is missing: an end-to-end test never skips silently. */
export function requireEtcd(): void {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} is missing: install Debian's etcd-server and etcd-client (scripts/install-deps.sh does)`);
  if (process.getuid?.() !== 0) throw new Error("the etcd tests create a network namespace: run them as root");
}

let counter = 0;

/** Members on a lab's bridge instead: each in its own namespace with a veth leg on the bridge (198.51.100.0/24 only). */
export interface BridgeOptions {
  /** The namespace holding the bridge. */
  netns: string;
  bridge: string;
  /** One address per member, in the lab's subnet. */
  addresses: string[];
  prefix: number;
}

export class EtcdCluster {
  readonly netns: string;
  readonly dir: string;
  private readonly procs: (ChildProcess | undefined)[];
  private readonly logs: string[][];
  private readonly made: string[] = [];

  private constructor(
    readonly size: number,
    private readonly bridge?: BridgeOptions,
  ) {
    this.netns = `svcc-etcd-${process.pid}-${counter++}`;
    this.dir = mkdtempSync(join(tmpdir(), "svcc-etcd-"));
    this.procs = new Array(size).fill(undefined);
    this.logs = Array.from({ length: size }, () => []);
  }

  static async start(size: 1 | 3, bridge?: BridgeOptions): Promise<EtcdCluster> {
    requireEtcd();
    const c = new EtcdCluster(size, bridge);
    try {
      if (!bridge) {
        c.addNetns(c.netns);
      } else {
        if (bridge.addresses.length !== size || !bridge.addresses.every((a) => a.startsWith("198.51.100."))) throw new Error("etcd on a lab bridge: one 198.51.100.x address per member");
        for (let i = 0; i < size; i++) {
          const ns = c.nsOf(i);
          c.addNetns(ns);
          const leg = `ve-etcd${counter}-${i}`.slice(0, 15);
          execFileSync("ip", ["-n", bridge.netns, "link", "add", leg, "type", "veth", "peer", "name", "eth0", "netns", ns]);
          execFileSync("ip", ["-n", bridge.netns, "link", "set", leg, "master", bridge.bridge, "up"]);
          execFileSync("ip", ["-n", ns, "addr", "add", `${bridge.addresses[i]}/${bridge.prefix}`, "dev", "eth0"]);
          execFileSync("ip", ["-n", ns, "link", "set", "eth0", "up"]);
        }
      }
      for (let i = 0; i < size; i++) c.spawnMember(i, "new");
      await c.waitHealthy(30_000);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  private addNetns(name: string): void {
    execFileSync("ip", ["netns", "add", name]);
    this.made.push(name);
    execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
  }

  /** The namespace member i runs in. */
  nsOf(i: number): string {
    return this.bridge ? `${this.netns}-m${i}` : this.netns;
  }

  private host(i: number): string {
    return this.bridge ? this.bridge.addresses[i] : "127.0.0.1";
  }

  private name(i: number): string {
    return `m${i}`;
  }

  private peerUrl(i: number): string {
    return `http://${this.host(i)}:${2380 + 10 * i}`;
  }

  /** The client URL as seen from the namespaces (the lab's nodes reach it over the bridge). */
  clientUrl(i: number): string {
    return `http://${this.host(i)}:${2379 + 10 * i}`;
  }

  /** The unix socket clients use for member i. */
  socket(i: number): string {
    return join(this.dir, `${this.name(i)}:${2379 + 10 * i}`);
  }

  endpoints(): string[] {
    return Array.from({ length: this.size }, (_, i) => `unix://${this.socket(i)}`);
  }

  endpoint(i: number): string {
    return `unix://${this.socket(i)}`;
  }

  private spawnMember(i: number, state: "new" | "existing"): void {
    const cluster = Array.from({ length: this.size }, (_, j) => `${this.name(j)}=${this.peerUrl(j)}`).join(",");
    rmSync(this.socket(i), { force: true });
    const args = [
      `--net=/run/netns/${this.nsOf(i)}`, ETCD,
      "--name", this.name(i),
      "--data-dir", join(this.dir, `data-${i}`),
      "--listen-client-urls", `${this.clientUrl(i)},unix://${this.name(i)}:${2379 + 10 * i}`,
      "--advertise-client-urls", this.clientUrl(i),
      "--listen-peer-urls", this.peerUrl(i),
      "--initial-advertise-peer-urls", this.peerUrl(i),
      "--initial-cluster", cluster,
      "--initial-cluster-state", state,
      "--initial-cluster-token", this.netns,
      "--heartbeat-interval", "100",
      "--election-timeout", "1000",
      "--logger", "zap",
      "--log-outputs", "stderr",
    ];
    // nsenter enters only the network namespace and execs etcd (the PID is etcd's own). Not
    // `ip netns exec`: it also makes a mount namespace, whose copy of the lab's mounts would
    // keep the lab's loop devices busy while etcd runs.
    const p = spawn("nsenter", args, { cwd: this.dir, stdio: ["ignore", "ignore", "pipe"] });
    p.stderr!.on("data", (d: Buffer) => {
      const log = this.logs[i];
      log.push(d.toString());
      if (log.length > 200) log.splice(0, log.length - 200);
    });
    this.procs[i] = p;
  }

  /** Runs etcdctl inside the namespace against member i (or all members). */
  ctl(args: string[], member?: number): string {
    const endpoints = member === undefined ? Array.from({ length: this.size }, (_, j) => this.clientUrl(j)).filter((_, j) => this.procs[j]).join(",") : this.clientUrl(member);
    return execFileSync("nsenter", [`--net=/run/netns/${this.nsOf(member ?? 0)}`, "etcdctl", `--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=3s", ...args], { env: { ...process.env, ETCDCTL_API: "3" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < until) {
      try {
        this.ctl(["endpoint", "health"]);
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`etcd did not become healthy within ${timeoutMs} ms: ${last}\n${this.logs.map((l, i) => `m${i}: ${l.join("").slice(-1500)}`).join("\n")}`);
  }

  /** The index of the current leader. */
  leader(): number {
    const out = JSON.parse(this.ctl(["endpoint", "status", "-w", "json"])) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
    for (const s of out) {
      if (s.Status.leader === s.Status.header.member_id) return Math.round((Number(s.Endpoint.split(":").at(-1)) - 2379) / 10);
    }
    throw new Error("no etcd leader");
  }

  /** Every member's client URL (what the lab's agents are configured with). */
  clientUrls(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.clientUrl(i));
  }

  pid(i: number): number | undefined {
    return this.procs[i]?.pid;
  }

  async kill(i: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.procs[i];
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    this.procs[i] = undefined;
  }

  /** Freezes member i: returns once every thread of it is stopped (see waitStopped). */
  pause(i: number): void {
    const p = this.procs[i];
    if (!p?.pid) return;
    p.kill("SIGSTOP");
    waitStopped(p.pid);
  }

  resume(i: number): void {
    this.procs[i]?.kill("SIGCONT");
  }

  /** Starts member i again on its data directory. */
  restart(i: number): void {
    this.spawnMember(i, "existing");
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      this.resume(i);
      await this.kill(i);
    }
    for (const ns of this.made) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" }); // its veth leg goes with it
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * SIGSTOP stops a process only when one of its threads runs to take the signal; until then its
 * other threads keep running. On a busy machine etcd was seen answering a keepalive 15 ms after
 * kill() returned (the conformance test's "hung" renew then got a real answer). So a pause is
 * done only when every thread shows T in /proc (bounded: 5 s, polled every 2 ms).
 */
function waitStopped(pid: number, limitMs = 5_000): void {
  const until = Date.now() + limitMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let stopped = true;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const state = stat.charAt(stat.lastIndexOf(")") + 2);
        if (state !== "T" && state !== "t") {
          stopped = false;
          break;
        }
      }
    } catch {
      return; // the process is gone: nothing left to answer
    }
    if (stopped) return;
    if (Date.now() > until) throw new Error(`etcd (pid ${pid}) was not stopped ${limitMs} ms after SIGSTOP`);
    Atomics.wait(nap, 0, 0, 2);
  }
}
