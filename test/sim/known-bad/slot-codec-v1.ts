// One node's slot on the shared lease disk: 4 KiB, written only by that node. A torn or
// foreign write fails the checksum and is read as "unknown", which callers treat as live.

import { createHash } from "node:crypto";

export const SLOT_SIZE = 4096;
const MAGIC = "SVCCLEASE1";

export type LeaseState = "claim" | "held" | "released";

export interface ServiceLease {
  token: number;
  state: LeaseState;
}

/**
 * An operator's intent for a service (svcc switch/start/stop/freeze/thaw), written into the slot
 * of the node where the command ran. The cluster-wide intent is the one with the highest
 * version (ties: the earlier node in the node list), so no two nodes ever write one place.
 */
export interface Intent {
  version: number;
  /** Where the service should run; "" = stopped everywhere; undefined = orchestration decides. */
  placement?: string;
  frozen?: boolean;
  /** Request id, so the requester can tell whether its request is the one being served. */
  request: string;
}

/** What a node publishes about its instance of a service, for `svcc status` and switch progress. */
export interface InstanceStatus {
  state: "up" | "down" | "starting" | "stopping" | "failed" | "warn";
  /** Unit → ActiveState. */
  units: Record<string, string>;
  token?: number;
  /** The last thing the agent did, for progress streams. */
  step?: string;
}

export interface SlotRecord {
  node: string;
  /** Heartbeat counter: +1 on every write. Peers judge liveness by its changes, never by clocks. */
  seq: number;
  /** Random per agent start, so peers can tell a restart from a continuation. */
  incarnation: string;
  leases: Record<string, ServiceLease>;
  intents?: Record<string, Intent>;
  status?: Record<string, InstanceStatus>;
}

export type DecodedSlot = { kind: "empty" } | { kind: "corrupt" } | { kind: "record"; record: SlotRecord };

function checksum(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}

export function encodeSlot(record: SlotRecord): Buffer {
  const body = JSON.stringify(record);
  const text = `${MAGIC} ${checksum(body)} ${body}\n`;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > SLOT_SIZE) throw new Error(`lease slot of ${record.node} is too large (${bytes.length} bytes > ${SLOT_SIZE})`);
  const slot = Buffer.alloc(SLOT_SIZE);
  bytes.copy(slot);
  return slot;
}

export function decodeSlot(slot: Buffer): DecodedSlot {
  if (slot.every((b) => b === 0)) return { kind: "empty" };
  const end = slot.indexOf(0x0a);
  const text = slot.subarray(0, end < 0 ? slot.length : end).toString("utf8");
  const m = /^SVCCLEASE1 ([0-9a-f]{32}) (.*)$/s.exec(text);
  if (!m || checksum(m[2]) !== m[1]) return { kind: "corrupt" };
  try {
    const record = JSON.parse(m[2]) as SlotRecord;
    if (typeof record.node !== "string" || typeof record.seq !== "number" || typeof record.leases !== "object") return { kind: "corrupt" };
    return { kind: "record", record };
  } catch {
    return { kind: "corrupt" };
  }
}
