// A real etcd (Debian's etcd-server) for tests: 1 or 3 members in a network namespace the
// test creates, members talking over the namespace's own loopback. The test process reaches
// each member through a unix socket in a temporary directory (a filesystem socket crosses
// network namespaces), so nothing is added to the machine's own network namespace. Every
// member is ended by its PID; the namespace and directory are removed on close().

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD = "/usr/bin/etcd";

/** Fails loudly when etcd is missing: an end-to-end test never skips silently. */
export function requireEtcd(): void {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} is missing: install Debian's etcd-server and etcd-client (scripts/install-deps.sh does)`);
  if (process.getuid?.() !== 0) throw new Error("the etcd tests create a network namespace: run them as root");
}

let counter = 0;

export class EtcdCluster {
  readonly netns: string;
  readonly dir: string;
  private readonly procs: (ChildProcess | undefined)[];
  private readonly logs: string[][];

  private constructor(readonly size: number) {
    this.netns = `svcc-etcd-${process.pid}-${counter++}`;
    this.dir = mkdtempSync(join(tmpdir(), "svcc-etcd-"));
    this.procs = new Array(size).fill(undefined);
    this.logs = Array.from({ length: size }, () => []);
  }

  static async start(size: 1 | 3): Promise<EtcdCluster> {
    requireEtcd();
    const c = new EtcdCluster(size);
    execFileSync("ip", ["netns", "add", c.netns]);
    try {
      execFileSync("ip", ["-n", c.netns, "link", "set", "lo", "up"]);
      for (let i = 0; i < size; i++) c.spawnMember(i, "new");
      await c.waitHealthy(30_000);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  private name(i: number): string {
    return `m${i}`;
  }

  private peerUrl(i: number): string {
    return `http://127.0.0.1:${2380 + 10 * i}`;
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
      `--net=/run/netns/${this.netns}`, ETCD,
      "--name", this.name(i),
      "--data-dir", join(this.dir, `data-${i}`),
      "--listen-client-urls", `http://127.0.0.1:${2379 + 10 * i},unix://${this.name(i)}:${2379 + 10 * i}`,
      "--advertise-client-urls", `http://127.0.0.1:${2379 + 10 * i}`,
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
    const endpoints = member === undefined ? Array.from({ length: this.size }, (_, j) => `http://127.0.0.1:${2379 + 10 * j}`).filter((_, j) => this.procs[j]).join(",") : `http://127.0.0.1:${2379 + 10 * member}`;
    return execFileSync("nsenter", [`--net=/run/netns/${this.netns}`, "etcdctl", `--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=3s", ...args], { env: { ...process.env, ETCDCTL_API: "3" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
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

  pause(i: number): void {
    this.procs[i]?.kill("SIGSTOP");
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
    try {
      execFileSync("ip", ["netns", "del", this.netns], { stdio: "ignore" });
    } catch {
      // never created
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
