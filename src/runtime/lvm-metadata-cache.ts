// The agent's vg and lv checks without an `lvm` process each minute. `lvm fullreport` costs
// ~15 ms of CPU (10 of them LVM's start-up), which is what the tags and LVs of a VG cost
// when nothing changed. So, per VG, this keeps the last report and the bytes that change
// whenever LVM's metadata changes (each PV's label sectors and the header of each metadata
// area: every commit rewrites them), read just BEFORE that report's `lvm fullreport` started.
// The next run reads those bytes again (O_DIRECT: another node may have written them) and
// answers from the kept report only when all of them are byte-identical, the report was
// confirmed that way (the first report after learning where the PVs are is not: see read),
// it is younger than maxAgeMs, and device-mapper's devices (sysfs) show exactly the LV states
// of the report. Anything else, a read that fails or does not answer in time included, runs
// `lvm fullreport` as before. Only the agent keeps one (src/runtime/health-in-agent.ts);
// `svcc res check` runs LVM every time.

import { close as closeCb, constants, open as openCb, read as readCb } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { Clock } from "./context.js";
import { readVgReport, type VgReport, type VgReportSource } from "./lvm.js";
import { type DmDevice, examinePv, LABEL_SCAN_BYTES, lvActiveFromDm, mdaInUse, parsePvLabel, type Region, watchedRegions } from "./lvm-metadata.js";
import type { CommandRunner, RunOptions } from "./runner.js";

const open = promisify(openCb);
const close = promisify(closeCb);
const readAt = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * Reads byte regions of block devices, each read bounded in time. The label and the headers
 * are read as concatenated regions, in order.
 */
export interface RegionReader {
  read(path: string, regions: readonly Region[], clock: Clock, timeoutMs: number): Promise<Buffer>;
}

const MAX_REGION = 64 * 1024;

/**
 * O_RDONLY|O_DIRECT reads (LVM reads so too: the page cache may hold what another node has
 * since overwritten) through one aligned buffer per device (found once as in
 * src/fence/lease/block-io.ts: JS cannot ask for an aligned address). The device is opened
 * for each read (a path that now names another device is then read, not the old one), never
 * for writing (closing a written block device makes udev re-examine it). At most ONE read is
 * outstanding, whatever the device: one that did not answer in time holds a thread of Node's
 * I/O pool (4 threads, which the lease's I/O needs too), and its buffer, until it returns; a
 * VG of ten PVs behind a dead path must not take the pool from the lease. Until it returns,
 * every read fails at once (and the check runs `lvm`, a process of its own).
 */
export class DirectRegionReader implements RegionReader {
  private readonly buffers = new Map<string, { buffer: Buffer; window: number; sector: number }>();
  private pending?: { path: string; since: number };

  async read(path: string, regions: readonly Region[], clock: Clock, timeoutMs: number): Promise<Buffer> {
    const busy = this.pending;
    if (busy) throw new Error(`an earlier read of ${busy.path} has not returned for ${Math.round((clock.now() - busy.since) / 1000)} s`);
    const mine = { path, since: clock.now() };
    this.pending = mine;
    const op = this.readNow(path, regions);
    const done = () => {
      if (this.pending === mine) this.pending = undefined;
    };
    void op.then(done, done);
    const stop = new AbortController();
    const late = clock.sleep(timeoutMs, stop.signal).then(() => "late" as const);
    try {
      const got = await Promise.race([op, late]);
      if (got === "late") throw new Error(`no answer from ${path} within ${timeoutMs} ms`);
      return got;
    } finally {
      stop.abort();
    }
  }

  private async readNow(path: string, regions: readonly Region[]): Promise<Buffer> {
    const fd = await open(path, constants.O_RDONLY | constants.O_DIRECT);
    try {
      let io = this.buffers.get(path);
      if (!io) {
        io = await probe(fd, path);
        this.buffers.set(path, io);
      }
      const parts: Buffer[] = [];
      for (const r of regions) {
        const from = Math.floor(r.offset / io.sector) * io.sector;
        const to = Math.ceil((r.offset + r.length) / io.sector) * io.sector;
        if (to - from > MAX_REGION) throw new Error(`${path}: a read of ${to - from} bytes is beyond ${MAX_REGION}`);
        const n = await readAt(fd, io.buffer, io.window, to - from, from);
        if (n !== to - from) throw new Error(`${path}: short read (${n} of ${to - from} bytes at ${from})`);
        parts.push(Buffer.from(io.buffer.subarray(io.window + r.offset - from, io.window + r.offset - from + r.length)));
      }
      return Buffer.concat(parts);
    } finally {
      await close(fd).catch(() => undefined);
    }
  }
}

/** An aligned window in a fresh buffer (the probe reads more than a page: a small misaligned read can pass), and the sector size (512, or 4096 on 4Kn disks). */
async function probe(fd: number, path: string): Promise<{ buffer: Buffer; window: number; sector: number }> {
  const buffer = Buffer.allocUnsafeSlow(MAX_REGION + 4096);
  let window: number | undefined;
  for (let offset = 0; offset < 4096 && window === undefined; offset += 16) {
    try {
      await readAt(fd, buffer, offset, 8192, 0);
      window = offset;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw new Error(`${path}: ${(err as Error).message}`);
    }
  }
  if (window === undefined) throw new Error(`${path}: no aligned buffer window for O_DIRECT reads`);
  let sector = 4096;
  try {
    await readAt(fd, buffer, window, 512, 512);
    sector = 512;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw new Error(`${path}: ${(err as Error).message}`);
  }
  return { buffer, window, sector };
}

/** device-mapper's devices as sysfs lists them (root/block/dm-N/dm/uuid and .../suspended); throws when it cannot list them. */
export async function readDmDevices(sysfsRoot: string, vgUuid: string): Promise<DmDevice[]> {
  const names = (await readdir(`${sysfsRoot}/block`)).filter((n) => n.startsWith("dm-"));
  const devices: DmDevice[] = [];
  for (const name of names) {
    const uuid = (await readFile(`${sysfsRoot}/block/${name}/dm/uuid`, "utf8")).trim();
    // Only the VG's own are read further (a device gone meanwhile throws: the caller runs LVM).
    const suspended = uuid.startsWith(`LVM-${vgUuid}`) ? (await readFile(`${sysfsRoot}/block/${name}/dm/suspended`, "utf8")).trim() : "";
    devices.push({ uuid, suspended });
  }
  return devices;
}

interface WatchedPv {
  path: string;
  uuid: string;
  mdaCount: number;
  regions: Region[];
}

interface Kept {
  pvs: WatchedPv[];
  /** Each PV's watched bytes, read before `lvm fullreport` (trusted) or after it (not yet). */
  bytes: Buffer[];
  report: VgReport;
  /** Clock time the report's `lvm fullreport` started. */
  at: number;
  /**
   * The bytes were read before the report's LVM command started: any commit since would
   * change them. Bytes read after it (when the PVs were first learnt) may already include a
   * commit the report missed: such a report is never answered from, the next run runs LVM.
   */
  trusted: boolean;
}

export interface VgMetadataCacheOptions {
  reader?: RegionReader;
  /** Where sysfs is (tests give a fake tree). */
  sysfsRoot?: string;
  /** How old a kept report may be (10 minutes by default; see defaultMaxAgeMs). */
  maxAgeMs?: number;
  /** What runs the real thing; readVgReport by default. */
  readReport?: (runner: CommandRunner, vg: string, opts: RunOptions) => Promise<VgReport>;
}

/**
 * Ten minutes: the headers show every commit of the metadata (tags, LVs), so the bound is for
 * what they cannot show and `lvm` would: an LVM configuration changed (a filter that now hides
 * the PV), a duplicate of the PV appearing (a cloned LUN), a PV that became unreadable past
 * the sectors read here. None of them is a takeover (which changes the tags, so the headers);
 * a full read every ten check runs bounds how long such a change goes unseen, for ~1.5 ms of
 * CPU a minute.
 */
export const defaultMaxAgeMs = 10 * 60_000;

export class VgMetadataCache implements VgReportSource {
  private readonly kept = new Map<string, Kept>();
  private readonly reader: RegionReader;
  private readonly sysfsRoot: string;
  private readonly maxAgeMs: number;
  private readonly readReport: (runner: CommandRunner, vg: string, opts: RunOptions) => Promise<VgReport>;
  /** Why the last read of each VG ran LVM (or "unchanged" when it did not): for tests and debugging. */
  readonly lastDecision = new Map<string, string>();

  constructor(options: VgMetadataCacheOptions = {}) {
    this.reader = options.reader ?? new DirectRegionReader();
    this.sysfsRoot = options.sysfsRoot ?? "/sys";
    this.maxAgeMs = options.maxAgeMs ?? defaultMaxAgeMs;
    this.readReport = options.readReport ?? readVgReport;
  }

  async read(runner: CommandRunner, clock: Clock, vg: string, opts: RunOptions & { timeoutMs: number }): Promise<VgReport> {
    const kept = this.kept.get(vg);
    let before: Buffer[] | undefined;
    let why = "nothing kept";
    if (kept) {
      before = await this.readAll(kept.pvs, clock, opts.timeoutMs).catch((err: Error) => {
        why = `cannot read the metadata headers: ${err.message}`;
        return undefined;
      });
      if (before) {
        if (!kept.trusted) why = "first report since the PVs were learnt";
        else if (!before.every((b, i) => b.equals(kept.bytes[i]))) why = "metadata headers changed";
        else if (clock.now() - kept.at >= this.maxAgeMs) why = `kept report older than ${this.maxAgeMs} ms`;
        else {
          const dm = await this.lvStatesAgree(kept.report);
          if (dm === true) {
            this.lastDecision.set(vg, "unchanged");
            return kept.report;
          }
          why = dm.why;
        }
      }
    }
    this.lastDecision.set(vg, why);
    // Nothing is kept while LVM runs: a failed read keeps nothing.
    this.kept.delete(vg);
    const at = clock.now();
    const report = await this.readReport(runner, vg, opts);
    const pvs = report.ids?.pvs;
    if (!pvs?.length || pvs.some((pv) => !pv.name.startsWith("/"))) return report; // a missing PV (or no ids): LVM each time
    // The bytes read before LVM ran stand for this report when they show these same PVs.
    if (kept && before && samePvs(kept.pvs, pvs) && this.fits(kept.pvs, before)) {
      this.kept.set(vg, { pvs: kept.pvs, bytes: before, report, at, trusted: true });
      return report;
    }
    const learnt = await this.learn(pvs, clock, opts.timeoutMs).catch(() => undefined);
    if (learnt) this.kept.set(vg, { ...learnt, report, at, trusted: false });
    return report;
  }

  /** One PV after another: the reader does one read at a time. */
  private async readAll(pvs: readonly WatchedPv[], clock: Clock, timeoutMs: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const pv of pvs) out.push(await this.reader.read(pv.path, pv.regions, clock, timeoutMs));
    return out;
  }

  /** The PVs' bytes still show these PVs, their metadata areas where they were, each header valid, one in use at least. */
  private fits(pvs: readonly WatchedPv[], bytes: readonly Buffer[]): boolean {
    try {
      const headers = pvs.flatMap((pv, i) => examinePv(bytes[i], pv).headers);
      return headers.some(mdaInUse);
    } catch {
      return false;
    }
  }

  /** Where each PV's label says its metadata areas are, and their bytes now. */
  private async learn(pvs: ReadonlyArray<{ name: string; uuid: string; mdaCount: number }>, clock: Clock, timeoutMs: number): Promise<{ pvs: WatchedPv[]; bytes: Buffer[] } | undefined> {
    const watched: WatchedPv[] = [];
    for (const pv of pvs) {
      const scan = await this.reader.read(pv.name, [{ offset: 0, length: LABEL_SCAN_BYTES }], clock, timeoutMs);
      watched.push({ path: pv.name, uuid: pv.uuid, mdaCount: pv.mdaCount, regions: watchedRegions(parsePvLabel(scan)) });
    }
    const bytes = await this.readAll(watched, clock, timeoutMs);
    return this.fits(watched, bytes) ? { pvs: watched, bytes } : undefined;
  }

  private async lvStatesAgree(report: VgReport): Promise<true | { why: string }> {
    const ids = report.ids!;
    let devices: DmDevice[];
    try {
      devices = await readDmDevices(this.sysfsRoot, ids.vgUuid);
    } catch (err) {
      return { why: `cannot list device-mapper devices: ${(err as Error).message}` };
    }
    const states = lvActiveFromDm(devices, ids.vgUuid, ids.lvUuids);
    if ("why" in states) return states;
    for (const [name, state] of report.lvs) {
      if (states.get(name) !== state) return { why: `LV ${name}: device-mapper says ${JSON.stringify(states.get(name))}, the kept report ${JSON.stringify(state)}` };
    }
    return true;
  }
}

function samePvs(watched: readonly WatchedPv[], pvs: ReadonlyArray<{ name: string; uuid: string; mdaCount: number }>): boolean {
  return watched.length === pvs.length && watched.every((w, i) => w.path === pvs[i].name && w.uuid === pvs[i].uuid && w.mdaCount === pvs[i].mdaCount);
}
