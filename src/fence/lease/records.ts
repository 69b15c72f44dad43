// The lease device's records and how they are written. Every record is one checksummed text
// line at the start of its own 4 KiB block, and every record that changes is kept twice (A/B):
// a write goes to the copy that does not hold the newest valid state, so a write torn by a
// crash destroys at most the state being written, never the last state that was completed.
// Host records and per-service ballot blocks fit in one 512-byte sector (atomic on real disks,
// A/B covers the rest); the header may fill its block.
//
// Format: "SVCCLEASE v<version> <kind> <checksum> <json>\n" then zeros. A record of another
// format version is reported as such (never as corrupt, never as readable), so an agent of
// another svcc release on the same device is refused by name, not silently misread.

import { createHash } from "node:crypto";
import type { LeaseTimings } from "./types.js";

export const FORMAT_VERSION = 2;
/** The header's size (one copy). */
export const HEADER_SIZE = 4096;
/** Host records and ballot blocks must fit one 512-byte sector: its write is atomic on real disks. */
export const SECTOR = 512;
const MAGIC = "SVCCLEASE";

export type RecordKind = "header" | "host" | "ballot" | "config";

export type Decoded<T> =
  | { kind: "empty" }
  | { kind: "corrupt"; raw: string }
  | { kind: "version"; version: string }
  | { kind: "record"; record: T };

function checksum(kind: string, body: string): string {
  return createHash("sha256").update(`${FORMAT_VERSION} ${kind} ${body}`).digest("hex").slice(0, 32);
}

/** The record as one line, padded with zeros to `size` bytes (a sector, or the header's 4 KiB). */
export function encodeRecord(kind: RecordKind, record: object, limit: number, size: number): Buffer {
  const body = JSON.stringify(record);
  const line = `${MAGIC} v${FORMAT_VERSION} ${kind} ${checksum(kind, body)} ${body}\n`;
  const out = Buffer.alloc(size);
  const n = out.write(line, "utf8");
  if (Buffer.byteLength(line) > Math.min(limit, size)) throw new RecordTooLarge(kind, Buffer.byteLength(line), Math.min(limit, size));
  void n;
  return out;
}

export class RecordTooLarge extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`lease ${kind} record of ${size} bytes does not fit its ${limit}-byte sector`);
  }
}

const LINE = /^SVCCLEASE v(\d+) (header|host|ballot|config) ([0-9a-f]{32}) (.*)$/s;

const ZERO = Buffer.alloc(HEADER_SIZE);
/** Decoded records by kind and text: a device mostly returns what it returned last time, and checksums cost. */
const decodedByText = { header: new Map<string, Decoded<unknown>>(), host: new Map<string, Decoded<unknown>>(), ballot: new Map<string, Decoded<unknown>>(), config: new Map<string, Decoded<unknown>>() };

export function decodeRecord<T>(block: Buffer, kind: RecordKind, check: (r: unknown) => r is T): Decoded<T> {
  if (block[0] === 0) return block.equals(ZERO.subarray(0, block.length)) ? { kind: "empty" } : { kind: "corrupt", raw: digest(block) };
  const end = block.indexOf(0x0a);
  if (end < 0) return { kind: "corrupt", raw: digest(block) };
  const text = block.toString("utf8", 0, end);
  const cache = decodedByText[kind];
  const cached = cache.get(text);
  if (cached) return cached as Decoded<T>;
  const decoded = decodeText(text, kind, check, block);
  if (decoded.kind === "record" || decoded.kind === "version") {
    if (cache.size > 2048) cache.clear();
    cache.set(text, decoded);
  }
  return decoded;
}

function decodeText<T>(text: string, kind: RecordKind, check: (r: unknown) => r is T, block: Buffer): Decoded<T> {
  const versionOnly = /^SVCCLEASE v(\d+) /.exec(text);
  if (versionOnly && Number(versionOnly[1]) !== FORMAT_VERSION) return { kind: "version", version: versionOnly[1] };
  const m = LINE.exec(text);
  if (!m || m[2] !== kind || checksum(kind, m[4]) !== m[3]) return { kind: "corrupt", raw: digest(block) };
  try {
    const record = JSON.parse(m[4]) as unknown;
    return check(record) ? { kind: "record", record: Object.freeze(record) as T } : { kind: "corrupt", raw: digest(block) };
  } catch {
    return { kind: "corrupt", raw: digest(block) };
  }
}

/** A short fingerprint of raw bytes: a corrupt record is "silent" while its bytes do not change. */
export function digest(block: Buffer): string {
  return createHash("sha256").update(block).digest("hex").slice(0, 16);
}

/** Records kept twice carry a copy counter; the newest valid copy is the record. */
export interface Versioned {
  copy: number;
}

export type PairState<T> =
  | { kind: "empty" }
  | { kind: "record"; record: T; /** block index (0 or 1) holding it */ slot: 0 | 1 }
  | { kind: "corrupt"; raw: string }
  | { kind: "version"; version: string };

/** The newest valid copy of an A/B pair; "corrupt" only when neither copy is readable and one is not empty. */
export function newestOfPair<T extends Versioned>(a: Decoded<T>, b: Decoded<T>): PairState<T> {
  for (const d of [a, b]) if (d.kind === "version") return d;
  const valid = ([a, b] as Decoded<T>[]).map((d, i) => (d.kind === "record" ? { record: d.record, slot: i as 0 | 1 } : undefined)).filter((x) => x !== undefined);
  if (valid.length === 2) return valid[0]!.record.copy >= valid[1]!.record.copy ? { kind: "record", ...valid[0]! } : { kind: "record", ...valid[1]! };
  if (valid.length === 1) return { kind: "record", ...valid[0]! };
  if (a.kind === "empty" && b.kind === "empty") return { kind: "empty" };
  return { kind: "corrupt", raw: [a, b].map((d) => (d.kind === "corrupt" ? d.raw : d.kind)).join("/") };
}

/** The copy a new write goes to: never the one holding the newest valid state. */
export function slotForNextWrite<T extends Versioned>(pair: PairState<T>): 0 | 1 {
  return pair.kind === "record" ? (pair.slot === 0 ? 1 : 0) : 0;
}

export function nodesHash(nodes: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(nodes)).digest("hex").slice(0, 16);
}

// ---- the records ----

/** The timings every host reads from the device header (the same fields the agent uses). */
export type LeaseTimingsOnDisk = LeaseTimings;

/** Written only by `svcc lease init` (and add/replace): the cluster's one source of truth. */
export interface HeaderRecord extends Versioned {
  /** The device's logical sector size when initialised (512 or 4096): each host and ballot record fills one. */
  sectorSize: number;
  /** Host ids are indexes in this list, whatever order agents' configs list nodes in. */
  nodes: string[];
  /** Service area indexes are positions in this list; services are only ever appended. */
  services: string[];
  maxHosts: number;
  maxServices: number;
  timings: LeaseTimingsOnDisk;
  /** Tokens start above these (a replaced device never lets a token go backwards). */
  tokenFloor: Record<string, number>;
  /** Random id of this initialisation: an agent that sees it change stops trusting its view. */
  id: string;
  initialisedAt: string;
}

/** A node declared dead by an operator (who checked it is powered off), for one incarnation. */
export interface DeadDeclaration {
  node: string;
  generation: number;
  seq: number;
}

/** One per host id: the delta lease (sanlock style). Written only by the host that holds the id. */
export interface HostRecord extends Versioned {
  node: string;
  index: number;
  nodesHash: string;
  headerId: string;
  /** Random per boot: a restarted agent on the same boot continues, another machine differs. */
  incarnation: string;
  /** +1 each time the host id is acquired afresh (a reboot, or a new machine with the name). */
  generation: number;
  /** Heartbeat counter: +1 on every renew. Peers judge liveness by its changes, never by clocks. */
  seq: number;
  /** The agent is shutting down cleanly and holds nothing: peers need not wait for it. */
  leaving?: boolean;
  dead?: DeadDeclaration[];
}

export type IntentOrigin = "operator" | "failover" | "rollback" | "monitor";

export interface IntentRecord {
  /** Version: the newest intent cluster-wide wins (ties: lower host index). */
  v: number;
  /** Placement: a node; "" = stopped everywhere; absent = orchestration decides. */
  p?: string;
  /** Frozen. */
  f?: boolean;
  /** Request id, so the requester can tell whether its request is the one being served. */
  r: string;
  /** Node that issued it. */
  by: string;
  /** Who asked: an operator's request, or the agents themselves after a failure. */
  o?: IntentOrigin;
  /** Clear the hold-down of these nodes. */
  clear?: string[];
}

export type InstanceState = "up" | "down" | "starting" | "stopping" | "failed" | "warn";

export interface StatusRecord {
  st: InstanceState;
  /** Member unit states in start order, one letter each (a active, i inactive, f failed, s activating, d deactivating, ? unknown). */
  u?: string;
  tok?: number;
  step?: string;
  /** Held down after a failure here (orchestration keeps the service away from this node). */
  hd?: boolean;
  /** The published config version installed here (`svcc deploy`): "<n>:<hash>". */
  cv?: string;
}

/** The ballot block of one host for one service (Disk Paxos dblock), plus what the host publishes. */
export interface BallotRecord extends Versioned {
  s: string;
  h: number;
  /** The writer's host generation when it wrote this block (a claim dies with its generation). */
  gen: number;
  /** Lease version this ballot state is about: the fencing token of that version. */
  lver: number;
  mbal: number;
  bal: number;
  /** Proposed owner: host index + 1 (0 = none), and its host generation. */
  inp: number;
  inpGen: number;
  /** This host's ownership of lver: 0 none, 1 held (it won the ballot), 2 released (or withdrawn). */
  own: 0 | 1 | 2;
  /** Highest lease version this host has seen for the service: tokens never go backwards. */
  max: number;
  intent?: IntentRecord;
  status?: StatusRecord;
  /** The newest published config this host has seen committed (every host carries it, as the intent). */
  cfg?: ConfigRef;
}

/** A published config version on the disk: its counter, hash, and where its body is (the proposer's slot k). */
export interface ConfigRef {
  n: number;
  /** Content hash (16 hex digits); "" when deleted. */
  x: string;
  /** Host index of the proposer (its body slots hold the text). */
  b: number;
  /** Which of the proposer's two body slots. */
  k: 0 | 1;
  /** Deleted. */
  d?: 1;
}

/**
 * One host's ballot block for a service's config counter (single-decree Disk Paxos per
 * counter, as for leases): the value chosen for counter n is the config published as version
 * n. hid: the header id (blocks from an earlier initialisation of the device are ignored).
 */
export interface ConfigBallotRecord extends Versioned {
  s: string;
  h: number;
  hid: string;
  n: number;
  mbal: number;
  bal: number;
  /** The proposal accepted at bal (phase 2), with the version it built on. */
  v?: ConfigRef & { base: number };
}

const isObject = (r: unknown): r is Record<string, unknown> => typeof r === "object" && r !== null && !Array.isArray(r);
const isInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

export const isHeader = (r: unknown): r is HeaderRecord =>
  isObject(r) && Array.isArray(r.nodes) && r.nodes.every((n) => typeof n === "string") && Array.isArray(r.services) && isInt(r.maxHosts) && isInt(r.maxServices) && (r.sectorSize === 512 || r.sectorSize === 4096) && isObject(r.timings) && typeof r.id === "string" && isInt(r.copy);

export const isHost = (r: unknown): r is HostRecord =>
  isObject(r) && typeof r.node === "string" && isInt(r.index) && typeof r.incarnation === "string" && isInt(r.generation) && isInt(r.seq) && isInt(r.copy) && typeof r.nodesHash === "string";

export const isBallot = (r: unknown): r is BallotRecord =>
  isObject(r) && typeof r.s === "string" && isInt(r.h) && isInt(r.gen) && isInt(r.lver) && isInt(r.mbal) && isInt(r.bal) && isInt(r.inp) && isInt(r.inpGen) && (r.own === 0 || r.own === 1 || r.own === 2) && isInt(r.max) && isInt(r.copy) && (r.cfg === undefined || isRef(r.cfg));

const isRef = (r: unknown): r is ConfigRef => isObject(r) && isInt(r.n) && typeof r.x === "string" && isInt(r.b) && (r.k === 0 || r.k === 1);

export const isConfigBallot = (r: unknown): r is ConfigBallotRecord =>
  isObject(r) && typeof r.s === "string" && isInt(r.h) && typeof r.hid === "string" && isInt(r.n) && isInt(r.mbal) && isInt(r.bal) && isInt(r.copy) && (r.v === undefined || (isRef(r.v) && isInt((r.v as { base?: unknown }).base)));

/** Encodes a ballot record, shedding what is only informative (step text, unit letters) if it does not fit a sector. */
export function encodeBallot(record: BallotRecord, size: number): Buffer {
  try {
    return encodeRecord("ballot", record, SECTOR, size);
  } catch (err) {
    if (!(err instanceof RecordTooLarge) || !record.status) throw err;
    const { step: _step, u: _u, ...status } = record.status;
    return encodeRecord("ballot", { ...record, status }, SECTOR, size);
  }
}
