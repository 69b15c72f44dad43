// The operator's side of the lease device (`svcc lease init|show|...`): initialise it, add
// services, re-initialise it safely, and read it whole for inspection. Each refuses what
// would be unsafe: nothing here overwrites a device that a live host is using.

import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import type { BlockDevice } from "./block-io.js";
import { areaOffset, defaultGeometry, deviceBytes, type Geometry, HEADER_BYTES, HEADERS_BYTES, hostOffset } from "./layout.js";
import {
  type BallotRecord,
  decodeRecord,
  encodeRecord,
  type HeaderRecord,
  type HostRecord,
  isBallot,
  isHeader,
  isHost,
  newestOfPair,
  type PairState,
  slotForNextWrite,
} from "./records.js";
import { checkTimings, type LeaseTimings, takeoverWaitMs } from "./types.js";

export interface InitOptions {
  nodes: string[];
  services: string[];
  timings: LeaseTimings;
  geometry?: Omit<Geometry, "sectorSize">;
  /** Re-initialise a device whose nodes or timings differ (only once every host on it is silent). */
  force?: boolean;
  /** Tokens start above these (e.g. the highest token of a device being replaced). */
  tokenFloor?: Record<string, number>;
  /** Bytes the device holds (checked against what the layout needs). */
  sizeBytes?: number;
}

export interface DeviceContents {
  header?: HeaderRecord;
  headerState: PairState<HeaderRecord>["kind"];
  hosts: PairState<HostRecord>[];
  areas: Map<string, PairState<BallotRecord>[]>;
}

export async function readHeader(dev: BlockDevice): Promise<PairState<HeaderRecord>> {
  const buf = await dev.read(0, HEADERS_BYTES);
  return newestOfPair(decodeRecord(buf.subarray(0, HEADER_BYTES), "header", isHeader), decodeRecord(buf.subarray(HEADER_BYTES), "header", isHeader));
}

export async function readDevice(dev: BlockDevice): Promise<DeviceContents> {
  const headerState = await readHeader(dev);
  if (headerState.kind !== "record") return { headerState: headerState.kind, hosts: [], areas: new Map() };
  const header = headerState.record;
  const n = header.nodes.length;
  const S = header.sectorSize;
  const pairOf = <T extends { copy: number }>(buf: Buffer, i: number, kind: "host" | "ballot", check: (r: unknown) => r is T) =>
    newestOfPair(decodeRecord(buf.subarray(2 * i * S, (2 * i + 1) * S), kind, check), decodeRecord(buf.subarray((2 * i + 1) * S, (2 * i + 2) * S), kind, check));
  const hostBuf = await dev.read(hostOffset(header, 0), 2 * n * S);
  const hosts = header.nodes.map((_, h) => pairOf(hostBuf, h, "host", isHost));
  const areas = new Map<string, PairState<BallotRecord>[]>();
  for (const [a, service] of header.services.entries()) {
    const buf = await dev.read(areaOffset(header, a), 2 * n * S);
    areas.set(service, header.nodes.map((_, h) => pairOf(buf, h, "ballot", isBallot)));
  }
  return { header, headerState: "record", hosts, areas };
}

/** Highest token each service has reached on a device (what a replacement must start above). */
export function maxTokens(contents: DeviceContents): Record<string, number> {
  const floor: Record<string, number> = { ...(contents.header?.tokenFloor ?? {}) };
  for (const [service, pairs] of contents.areas) {
    for (const p of pairs) if (p.kind === "record") floor[service] = Math.max(floor[service] ?? 0, p.record.lver, p.record.max);
  }
  return floor;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkNames(what: string, names: string[]): void {
  if (names.length === 0) throw new Error(`lease init: no ${what} given`);
  const seen = new Set<string>();
  for (const n of names) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n)) throw new Error(`lease init: invalid ${what.replace(/s$/, "")} name "${n}"`);
    if (seen.has(n)) throw new Error(`lease init: ${what.replace(/s$/, "")} "${n}" is listed twice`);
    seen.add(n);
  }
}

/**
 * Writes a fresh header (and clears every record) on a device without one; on a device with
 * the same nodes and timings, appends services it lacks and changes nothing else; anything
 * else needs `force`, and even then only once every host record has been silent for the
 * takeover wait (nobody is using the device), and tokens continue above the old ones.
 */
export async function initLease(dev: BlockDevice, clock: Clock, o: InitOptions, log: (m: string) => void = () => undefined): Promise<{ action: "initialised" | "appended" | "unchanged" | "reinitialised"; header: HeaderRecord }> {
  checkNames("nodes", o.nodes);
  checkNames("services", o.services);
  const problems = checkTimings(o.timings);
  if (problems.length) throw new Error(`lease init: bad timings: ${problems.join("; ")}`);
  const geometry: Geometry = { ...(o.geometry ?? defaultGeometry), sectorSize: dev.sectorSize };
  if (o.nodes.length > geometry.maxHosts) throw new Error(`lease init: ${o.nodes.length} nodes do not fit ${geometry.maxHosts} host slots`);
  if (o.sizeBytes !== undefined && o.sizeBytes < deviceBytes(geometry)) throw new Error(`lease init: ${dev.path} holds ${o.sizeBytes} bytes; the layout for ${geometry.maxHosts} hosts and ${geometry.maxServices} services needs ${deviceBytes(geometry)}`);

  const existing = await readHeader(dev);
  if (existing.kind === "version") throw new Error(`lease init: ${dev.path} holds svcc lease format v${existing.version}; refusing to overwrite it with this svcc`);
  if (existing.kind === "record") {
    const h = existing.record;
    const sameNodes = sameList(h.nodes, o.nodes);
    const sameTimings = JSON.stringify(h.timings) === JSON.stringify({ ...h.timings, ...o.timings }) && Object.keys(o.timings).length === Object.keys(h.timings).length;
    if (sameNodes && sameTimings) {
      const added = o.services.filter((s) => !h.services.includes(s));
      if (added.length === 0) return { action: "unchanged", header: h };
      if (h.services.length + added.length > h.maxServices) throw new Error(`lease init: ${dev.path} has room for ${h.maxServices} services`);
      const next: HeaderRecord = { ...h, services: [...h.services, ...added], copy: h.copy + 1 };
      // Areas of new services may hold old bytes: clear them before the header names them.
      for (let a = h.services.length; a < next.services.length; a++) await dev.write(areaOffset(h, a), Buffer.alloc(2 * h.maxHosts * h.sectorSize));
      await dev.write(slotForNextWrite(existing) * HEADER_BYTES, encodeRecord("header", next, HEADER_BYTES, HEADER_BYTES));
      log(`added ${added.join(", ")} to ${dev.path}`);
      return { action: "appended", header: next };
    }
    if (!o.force) {
      const what = !sameNodes ? `nodes (${h.nodes.join(", ")} on the device)` : `timings (${JSON.stringify(h.timings)} on the device)`;
      throw new Error(`lease init: ${dev.path} is initialised with other ${what}; re-initialising stops every agent using it: stop them, then use --force`);
    }
    await waitUntilSilent(dev, h, clock, log);
    const floor = { ...maxTokens(await readDevice(dev)), ...(o.tokenFloor ?? {}) };
    return { action: "reinitialised", header: await writeFresh(dev, o, geometry, floor) };
  }
  return { action: "initialised", header: await writeFresh(dev, o, geometry, o.tokenFloor ?? {}) };
}

async function writeFresh(dev: BlockDevice, o: InitOptions, g: Geometry, tokenFloor: Record<string, number>): Promise<HeaderRecord> {
  const header: HeaderRecord = {
    sectorSize: g.sectorSize,
    nodes: o.nodes,
    services: o.services,
    maxHosts: g.maxHosts,
    maxServices: g.maxServices,
    timings: o.timings,
    tokenFloor,
    id: randomUUID(),
    initialisedAt: new Date().toISOString(),
    copy: 1,
  };
  // Clear the header first (a half-done init is then "no header", never an old one with new records).
  await dev.write(0, Buffer.alloc(HEADERS_BYTES));
  const end = areaOffset(g, o.services.length);
  const chunk = 64 * 1024;
  for (let at = HEADERS_BYTES; at < end; at += chunk) await dev.write(at, Buffer.alloc(Math.min(chunk, end - at)));
  await dev.write(0, encodeRecord("header", header, HEADER_BYTES, HEADER_BYTES));
  return header;
}

async function waitUntilSilent(dev: BlockDevice, h: HeaderRecord, clock: Clock, log: (m: string) => void): Promise<void> {
  const wait = takeoverWaitMs(h.timings);
  const snapshot = async () => (await dev.read(hostOffset(h, 0), 2 * h.nodes.length * h.sectorSize)).toString("base64");
  let last = await snapshot();
  let quietSince = clock.now();
  log(`waiting ${wait} ms for every host record on ${dev.path} to stay unchanged (no agent may be using it)`);
  for (let i = 0; clock.now() - quietSince < wait; i++) {
    if (i > 10 * Math.ceil(wait / h.timings.renewMs)) throw new Error(`lease init: host records on ${dev.path} keep changing: an agent is still using it`);
    await clock.sleep(h.timings.renewMs);
    const now = await snapshot();
    if (now !== last) {
      throw new Error(`lease init: a host record on ${dev.path} changed: an agent is still using the device; stop every agent first`);
    }
    last = now;
  }
  void quietSince;
}
