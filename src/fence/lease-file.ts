// /run/svcc/<svc>.lease: what the agent tells the node's units about its lease on a service.
// It exists only while the agent holds the lease; each renew rewrites it (atomically) with
// the deadline until which the lease may be acted on, on the system-wide monotonic clock.
// Units read it as an EnvironmentFile (SVCC_TOKEN reaches every step and container), and the
// lease guard at the head of the service refuses to start without a valid one.

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface LeaseFile {
  service: string;
  node: string;
  token: number;
  /** Monotonic milliseconds (CLOCK_MONOTONIC, as process.hrtime) until which the lease is valid. */
  validUntilMs: number;
  /** /proc/sys/kernel/random/boot_id when written: a monotonic time means nothing on another boot. */
  bootId: string;
}

export function leaseFilePath(runDir: string, service: string): string {
  return join(runDir, `${service}.lease`);
}

export function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

export function formatLeaseFile(l: LeaseFile): string {
  return [`SVCC_SERVICE=${l.service}`, `SVCC_NODE=${l.node}`, `SVCC_TOKEN=${l.token}`, `SVCC_LEASE_VALID_UNTIL_MS=${Math.floor(l.validUntilMs)}`, `SVCC_BOOT_ID=${l.bootId}`, ""].join("\n");
}

export function parseLeaseFile(text: string): LeaseFile | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) kv.set(m[1], m[2]);
  }
  const token = Number(kv.get("SVCC_TOKEN"));
  const validUntilMs = Number(kv.get("SVCC_LEASE_VALID_UNTIL_MS"));
  const service = kv.get("SVCC_SERVICE");
  const node = kv.get("SVCC_NODE");
  const boot = kv.get("SVCC_BOOT_ID");
  if (!service || !node || !boot || !Number.isSafeInteger(token) || token <= 0 || !Number.isFinite(validUntilMs)) return undefined;
  return { service, node, token, validUntilMs, bootId: boot };
}

export function writeLeaseFile(runDir: string, l: LeaseFile): void {
  const path = leaseFilePath(runDir, l.service);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatLeaseFile(l), { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeLeaseFile(runDir: string, service: string): void {
  rmSync(leaseFilePath(runDir, service), { force: true });
}
