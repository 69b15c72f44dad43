// LVM2's on-disk format, read without LVM: the PV label and the metadata area headers, and
// which LVs device-mapper has active. Pure functions over bytes and lists; the reads and the
// decisions are in lvm-metadata-cache.ts. The layout is LVM2's lib/label/label.h and
// lib/format_text/layout.h (all integers little-endian):
//   label_header (in one of the first 4 sectors): id "LABELONE"[8], sector_xl u64 (the sector it
//     is in), crc_xl u32 (of the rest of its 512-byte sector, from offset_xl on), offset_xl u32
//     (to the pv_header, from the label's start), type "LVM2 001"[8]
//   pv_header: pv_uuid[32], device_size_xl u64, then data areas {offset u64, size u64} up to one
//     with offset 0, then metadata areas likewise
//   mda_header (the first 512 bytes of a metadata area): checksum_xl u32 (of bytes 4..511),
//     magic " LVM2 x[5A%r0N*>"[16], version u32 (1), start u64 (its own byte offset on the
//     device), size u64, then raw_locn {offset u64, size u64, checksum u32, flags u32} up to one
//     with offset 0; the first is the committed metadata text, flags bit 0 "ignored".
// Every commit of the VG's metadata rewrites the header of each metadata area in use (a new
// raw_locn: where the new text is, its size and its crc), so unchanged header bytes mean
// unchanged metadata.

export const SECTOR_SIZE = 512;
/** LVM looks for the label in the first 4 sectors (LABEL_SCAN_SECTORS). */
export const LABEL_SCAN_BYTES = 4 * SECTOR_SIZE;
export const MDA_HEADER_SIZE = 512;
const LABEL_ID = "LABELONE";
const LABEL_TYPE = "LVM2 001";
const MDA_MAGIC = " LVM2 x[5A%r0N*>";
const INITIAL_CRC = 0xf597a6cf;
export const RAW_LOCN_IGNORED = 0x1;

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** LVM's calc_crc: CRC-32 (reflected 0xEDB88320) from 0xf597a6cf, with no final inversion. */
export function lvmCrc(data: Uint8Array, initial = INITIAL_CRC): number {
  let c = initial >>> 0;
  for (const byte of data) c = (crcTable[(c ^ byte) & 0xff] ^ (c >>> 8)) >>> 0;
  return c >>> 0;
}

export interface DiskArea {
  offset: number;
  size: number;
}

export interface PvLabel {
  /** The sector (0-3) the label is in. */
  sector: number;
  /** The PV's uuid as stored (32 characters, no dashes). */
  pvUuid: string;
  deviceSize: number;
  dataAreas: DiskArea[];
  /** Where each metadata area starts (its mda_header) and its size, in bytes from the device's start. */
  mdas: DiskArea[];
}

function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${v} is beyond 2^53`);
  return Number(v);
}

/** The PV label in the first 4 sectors (LABEL_SCAN_BYTES of the device), as LVM reads it; throws when there is none or it is damaged. */
export function parsePvLabel(scan: Buffer): PvLabel {
  if (scan.length < LABEL_SCAN_BYTES) throw new Error(`PV label: ${scan.length} bytes where the first ${LABEL_SCAN_BYTES} are needed`);
  for (let sector = 0; sector < 4; sector++) {
    const lh = scan.subarray(sector * SECTOR_SIZE, (sector + 1) * SECTOR_SIZE);
    if (lh.toString("latin1", 0, 8) !== LABEL_ID) continue;
    // LVM skips a label that names another sector, and one whose crc does not match.
    if (lh.readBigUInt64LE(8) !== BigInt(sector)) continue;
    if (lh.readUInt32LE(16) !== lvmCrc(lh.subarray(20))) throw new Error(`PV label in sector ${sector}: bad crc`);
    if (lh.toString("latin1", 24, 32) !== LABEL_TYPE) throw new Error(`PV label in sector ${sector}: type ${JSON.stringify(lh.toString("latin1", 24, 32))}, not ${LABEL_TYPE}`);
    const offset = lh.readUInt32LE(20);
    if (offset < 32 || offset + 40 > SECTOR_SIZE) throw new Error(`PV label in sector ${sector}: pv_header offset ${offset} outside the sector`);
    const pvUuid = lh.toString("latin1", offset, offset + 32);
    if (!/^[0-9A-Za-z!#]{32}$/.test(pvUuid)) throw new Error(`PV label in sector ${sector}: pv_uuid ${JSON.stringify(pvUuid)}`);
    const deviceSize = u64(lh, offset + 32, "device size");
    let at = offset + 40;
    const list = (what: string): DiskArea[] => {
      const areas: DiskArea[] = [];
      for (;;) {
        if (at + 16 > SECTOR_SIZE) throw new Error(`PV label in sector ${sector}: its list of ${what} runs past the sector`);
        const area = { offset: u64(lh, at, `${what} offset`), size: u64(lh, at + 8, `${what} size`) };
        at += 16;
        if (area.offset === 0) return areas;
        areas.push(area);
      }
    };
    const dataAreas = list("data areas");
    const mdas = list("metadata areas");
    return { sector, pvUuid, deviceSize, dataAreas, mdas };
  }
  throw new Error("no LVM2 label in the first 4 sectors");
}

export interface RawLocn {
  offset: number;
  size: number;
  checksum: number;
  flags: number;
}

export interface MdaHeader {
  start: number;
  size: number;
  /** The first is the committed metadata. */
  rawLocns: RawLocn[];
}

/** A metadata area's header (its first 512 bytes), read at byte `at` of the device; throws when it is not a valid one for there. */
export function parseMdaHeader(buf: Buffer, at: number): MdaHeader {
  if (buf.length !== MDA_HEADER_SIZE) throw new Error(`mda_header at ${at}: ${buf.length} bytes, not ${MDA_HEADER_SIZE}`);
  if (buf.readUInt32LE(0) !== lvmCrc(buf.subarray(4))) throw new Error(`mda_header at ${at}: bad checksum`);
  if (buf.toString("latin1", 4, 20) !== MDA_MAGIC) throw new Error(`mda_header at ${at}: bad magic`);
  const version = buf.readUInt32LE(20);
  if (version !== 1) throw new Error(`mda_header at ${at}: version ${version}`);
  const start = u64(buf, 24, "mda start");
  if (start !== at) throw new Error(`mda_header at ${at} says it starts at ${start}`);
  const size = u64(buf, 32, "mda size");
  const rawLocns: RawLocn[] = [];
  for (let p = 40; ; p += 24) {
    if (p + 24 > MDA_HEADER_SIZE) throw new Error(`mda_header at ${at}: its raw_locn list runs past the header`);
    const locn = { offset: u64(buf, p, "raw_locn offset"), size: u64(buf, p + 8, "raw_locn size"), checksum: buf.readUInt32LE(p + 16), flags: buf.readUInt32LE(p + 20) };
    if (locn.offset === 0) break;
    rawLocns.push(locn);
  }
  return { start, size, rawLocns };
}

export interface Region {
  offset: number;
  length: number;
}

/** The bytes that say whether a PV's label or its metadata changed: its first 4 sectors and each metadata area's header. */
export function watchedRegions(label: PvLabel): Region[] {
  return [{ offset: 0, length: LABEL_SCAN_BYTES }, ...label.mdas.map((m) => ({ offset: m.offset, length: MDA_HEADER_SIZE }))];
}

/** What a PV's watched bytes (watchedRegions, concatenated) say, checked against what LVM reported of it; throws what does not fit. */
export function examinePv(bytes: Buffer, expected: { uuid: string; mdaCount: number; regions?: readonly Region[] }): { regions: Region[]; headers: MdaHeader[] } {
  const label = parsePvLabel(bytes.subarray(0, LABEL_SCAN_BYTES));
  if (label.pvUuid !== expected.uuid) throw new Error(`holds PV ${label.pvUuid}, not ${expected.uuid}`);
  if (label.mdas.length !== expected.mdaCount) throw new Error(`its label lists ${label.mdas.length} metadata areas, LVM reported ${expected.mdaCount}`);
  const regions = watchedRegions(label);
  if (expected.regions && JSON.stringify(regions) !== JSON.stringify(expected.regions)) throw new Error("its metadata areas moved");
  const total = regions.reduce((n, r) => n + r.length, 0);
  if (bytes.length !== total) throw new Error(`${bytes.length} bytes read where ${total} were expected`);
  const headers = label.mdas.map((m, i) => parseMdaHeader(bytes.subarray(LABEL_SCAN_BYTES + i * MDA_HEADER_SIZE, LABEL_SCAN_BYTES + (i + 1) * MDA_HEADER_SIZE), m.offset));
  return { regions, headers };
}

/** A metadata area LVM writes commits to: one whose committed raw_locn is there and not ignored. */
export const mdaInUse = (h: MdaHeader) => h.rawLocns.length > 0 && (h.rawLocns[0].flags & RAW_LOCN_IGNORED) === 0;

export interface DmDevice {
  /** /sys/block/dm-N/dm/uuid. */
  uuid: string;
  /** /sys/block/dm-N/dm/suspended: "0" or "1". */
  suspended: string;
}

/**
 * Each LV's lv_active as LVM would print it, from device-mapper's devices: "active" when the
 * device with uuid "LVM-<vg uuid><lv uuid>" exists (and is not suspended), "" when no device of
 * the LV exists. Anything this cannot tell exactly (a suspended device, a device of the VG with
 * a suffix (-real, -cow, -tpool, -pool...: snapshots, thin pools, raid, whose lv_active LVM
 * derives otherwise), one of an LV the report did not list) answers { why } instead.
 */
export function lvActiveFromDm(devices: readonly DmDevice[], vgUuid: string, lvUuids: ReadonlyMap<string, string>): Map<string, string> | { why: string } {
  const prefix = `LVM-${vgUuid}`;
  const byUuid = new Map([...lvUuids].map(([name, uuid]) => [uuid, name]));
  const active = new Set<string>();
  for (const dev of devices) {
    if (!dev.uuid.startsWith(prefix)) continue;
    const rest = dev.uuid.slice(prefix.length);
    const name = byUuid.get(rest);
    if (name === undefined) return { why: `device-mapper device ${dev.uuid} is not one of the reported LVs' own` };
    if (dev.suspended !== "0") return { why: `device-mapper device of LV ${name} is suspended (${JSON.stringify(dev.suspended)})` };
    active.add(name);
  }
  return new Map([...lvUuids.keys()].map((name) => [name, active.has(name) ? "active" : ""]));
}
