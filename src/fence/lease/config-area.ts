// The published service configs (`svcc deploy`): what every lease store keeps beside its
// leases, behind one interface. A version is a counter and a content hash; a publisher names
// the version it built on (its base), and a publish whose base is no longer the newest is
// refused with the version that won, so of two deploys at once one wins and the other is told.
// The disk keeps each config in a checksummed body that is only ever read back through the
// hash the committed version names (a torn or overwritten body is "unreadable", never half a
// config); etcd keeps it in one key written by a compare on its revision.

import { createHash } from "node:crypto";

/** The largest config text a store publishes (the disk's body slot, less its header line). */
export const CONFIG_TEXT_LIMIT = 32 * 1024 - 256;

export interface ConfigVersion {
  /** Counter: +1 on each publish, cluster-wide. */
  n: number;
  /** The text's content hash (sha256, first 16 hex digits); "" for a deletion. */
  hash: string;
  /** The node whose publish this is. */
  by: string;
  /** The service was deleted at this version (no text). */
  deleted?: boolean;
}

export interface PublishedConfig {
  version: ConfigVersion;
  text: string;
}

export type PublishResult = { ok: true; version: ConfigVersion } | { ok: false; reason: string; current?: ConfigVersion };

export interface ConfigStore {
  /** The newest published version as last read (a renew, a refresh or etcd's watch): no I/O of its own. */
  configVersion(service: string): ConfigVersion | undefined;
  /** Reads the newest published config whole, checked against its version's hash; undefined when none was published or it was deleted. */
  readConfig(service: string): Promise<PublishedConfig | undefined>;
  /**
   * Publishes text (null: deletes the service's config) as version base + 1 when the newest
   * published version is still `base` (0: none yet); otherwise refuses, naming the current one.
   */
  publishConfig(service: string, text: string | null, base: number): Promise<PublishResult>;
}

export function configHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);
}

export function describeVersion(v: ConfigVersion | undefined): string {
  if (!v) return "none";
  return v.deleted ? `v${v.n} (deleted)` : `v${v.n} (${v.hash.slice(0, 8)})`;
}

export function sameVersion(a: ConfigVersion | undefined, b: ConfigVersion | undefined): boolean {
  return !!a && !!b && a.n === b.n && a.hash === b.hash;
}

export function checkConfigText(service: string, text: string): string | undefined {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > CONFIG_TEXT_LIMIT) return `the config of ${service} is ${bytes} bytes; a published config holds at most ${CONFIG_TEXT_LIMIT}`;
  return undefined;
}

// ---- the disk's body: "SVCCCONF v1 <service> <sha256> <bytes>\n<text>", zero-padded ----

const BODY_LINE = /^SVCCCONF v1 (\S+) ([0-9a-f]{64}) (\d+)$/;

export function encodeConfigBody(service: string, text: string, size: number): Buffer {
  const data = Buffer.from(text, "utf8");
  const head = Buffer.from(`SVCCCONF v1 ${service} ${createHash("sha256").update(data).digest("hex")} ${data.length}\n`);
  if (head.length + data.length > size) throw new Error(`the config of ${service} (${data.length} bytes) does not fit its ${size}-byte slot`);
  const out = Buffer.alloc(size);
  head.copy(out, 0);
  data.copy(out, head.length);
  return out;
}

/** The body's text when it is whole, belongs to service and has the version's hash; else why not. */
export function decodeConfigBody(buf: Buffer, service: string, hash: string): { text: string } | { error: string } {
  const nl = buf.indexOf(0x0a);
  const m = nl > 0 && nl < 512 ? BODY_LINE.exec(buf.toString("utf8", 0, nl)) : null;
  if (!m) return { error: "no config body there" };
  if (m[1] !== service) return { error: `the body there is ${m[1]}'s` };
  const size = Number(m[3]);
  if (nl + 1 + size > buf.length) return { error: "the body is longer than its slot" };
  const data = buf.subarray(nl + 1, nl + 1 + size);
  const full = createHash("sha256").update(data).digest("hex");
  if (full !== m[2]) return { error: "the body's checksum does not match (a torn or overwritten write)" };
  if (full.slice(0, 16) !== hash) return { error: `the body there has hash ${full.slice(0, 16)}, not ${hash} (overwritten by a later publish)` };
  return { text: data.toString("utf8") };
}
