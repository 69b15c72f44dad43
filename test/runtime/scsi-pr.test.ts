// SCSI-3 persistent reservations (scsireserv on disk type=vg), against recorded command output:
// the lab has no SCSI target. sg_persist's texts are the ones sg3_utils prints with -n (no
// INQUIRY header; src/sg_persist.c at fb3d289c: "PR generation=0x%x, ", "Key=0x%" PRIx64, keys
// without leading zeros); lsblk's JSON is util-linux 2.38's (the virtio one recorded on this
// machine, the multipath one in the same shape).

import { afterEach, describe, expect, it } from "vitest";
import { formatPrKey, nodePrKey, parseRegistrations, parseReservation } from "../../src/runtime/scsi-pr.js";
import { FakeRunner, runAction } from "./fakes.js";

const OURS = "0x00c0ffee00000001";
const FOREIGN = "0x0000000000beef42";
const noReservation = { stdout: "  PR generation=0x0, there is NO reservation held\n" };
const reservedBy = (key: string) => ({ stdout: `  PR generation=0x4, Reservation follows:\n    Key=0x${BigInt(key).toString(16)}\n    scope: LU_SCOPE,  type: Write Exclusive, registrants only\n` });
const noKeys = { stdout: "  PR generation=0x0, there are NO registered reservation keys\n" };
const keys = (...ks: string[]) => ({ stdout: `  PR generation=0x${ks.length}, ${ks.length === 1 ? "1 registered reservation key follows:" : `${ks.length} registered reservation keys follow:`}\n${ks.map((k) => `    0x${BigInt(k).toString(16)}\n`).join("")}` });
const mpath = {
  stdout: JSON.stringify({
    blockdevices: [
      { kname: "dm-2", type: "mpath", subsystems: "block", children: [{ kname: "sdb", type: "disk", subsystems: "block:scsi:pci" }, { kname: "sdc", type: "disk", subsystems: "block:scsi:pci" }] },
    ],
  }),
};
const virtio = { stdout: '{\n   "blockdevices": [\n      {\n         "kname": "vda",\n         "type": "disk",\n         "subsystems": "block:virtio:pci"\n      }\n   ]\n}\n' };

const pvs = "pvs --noheadings -o pv_name --select vg_name=vgdata";
const lsblk = "lsblk --inverse --json -o KNAME,TYPE,SUBSYSTEMS /dev/mapper/mpatha";
const readRes = (dev: string) => `sg_persist -n --in --read-reservation ${dev}`;
const readKeys = (dev: string) => `sg_persist -n --in --read-keys ${dev}`;
const out = (dev: string, ...args: string[]) => `sg_persist -n --out ${args.join(" ")} ${dev}`;

function disk(): FakeRunner {
  return new FakeRunner().on(pvs, { stdout: "  /dev/mapper/mpatha\n" }).on(lsblk, mpath);
}
const start = (...extra: string[]) => ["scsi-reserve-start", "--vg", "vgdata", "--node", "n1", "--key", OURS, ...extra];
const stop = ["scsi-reserve-stop", "--vg", "vgdata", "--node", "n1", "--key", OURS];
const prout = (runner: FakeRunner) => runner.lines.filter((l) => l.includes(" --out "));

afterEach(() => {
  delete process.env.SVCC_TOKEN;
});

describe("scsi-reserve-start", () => {
  it("a free disk: the key registered on every path, then one reservation, type 5", async () => {
    const runner = disk().on(/--read-reservation/, noReservation).on(/--read-keys/, noKeys);
    const { code, stderr } = await runAction(start(), runner);
    expect(code, stderr).toBe(0);
    expect(prout(runner)).toEqual([
      out("/dev/sdb", "--register-ignore", "--param-sark", OURS),
      out("/dev/sdc", "--register-ignore", "--param-sark", OURS),
      out("/dev/sdb", "--reserve", "--param-rk", OURS, "--prout-type", "5"),
    ]);
    // every PROUT is preceded by a read that acknowledges a pending unit attention, and writes without O_RDONLY
    const i = runner.lines.indexOf(out("/dev/sdc", "--register-ignore", "--param-sark", OURS));
    expect(runner.lines[i - 1]).toBe(readRes("/dev/sdc"));
    expect(runner.calls[i].opts?.env).toMatchObject({ SG_PERSIST_O_RDONLY: "0" });
    expect(runner.calls.find((c) => c.line === readKeys("/dev/sdb"))?.opts?.env).toMatchObject({ SG_PERSIST_O_RDONLY: "1" });
    expect(stderr).toContain(`/dev/mapper/mpatha: registered on /dev/sdb, /dev/sdc and reserved with ${OURS}`);
  });

  it("already registered on every path and reserved by us: nothing is sent", async () => {
    const runner = disk().on(/--read-reservation/, reservedBy(OURS)).on(/--read-keys/, keys(OURS, OURS));
    expect((await runAction(start(), runner)).code).toBe(0);
    expect(prout(runner)).toEqual([]);
  });

  it("reserved by another key without the agent's lease: refused, nothing sent (om3 refuses without --force)", async () => {
    const runner = disk().on(/--read-reservation/, reservedBy(FOREIGN)).on(/--read-keys/, keys(FOREIGN, FOREIGN));
    const { code, stderr } = await runAction(start(), runner);
    expect(code).toBe(1);
    expect(stderr).toContain(`reserved by the foreign key ${FOREIGN}: refusing to preempt it without the svcc agent's lease`);
    expect(prout(runner)).toEqual([]);
  });

  it("reserved by another key under the agent's lease: registered, then preempted with abort", async () => {
    process.env.SVCC_TOKEN = "7";
    const runner = disk().on(/--read-reservation/, reservedBy(FOREIGN)).on(/--read-keys/, keys(FOREIGN));
    const { code, stderr } = await runAction(start(), runner);
    expect(code, stderr).toBe(0);
    expect(prout(runner)).toEqual([
      out("/dev/sdb", "--register-ignore", "--param-sark", OURS),
      out("/dev/sdc", "--register-ignore", "--param-sark", OURS),
      out("/dev/sdb", "--preempt-abort", "--param-sark", FOREIGN, "--param-rk", OURS, "--prout-type", "5"),
    ]);
    expect(stderr).toContain("holds the service's lease (token 7)");
  });

  it("no_preempt_abort: PREEMPT, not PREEMPT AND ABORT", async () => {
    process.env.SVCC_TOKEN = "7";
    const runner = disk().on(/--read-reservation/, reservedBy(FOREIGN)).on(/--read-keys/, keys(FOREIGN));
    expect((await runAction(start("--no-preempt-abort"), runner)).code).toBe(0);
    expect(prout(runner).at(-1)).toBe(out("/dev/sdb", "--preempt", "--param-sark", FOREIGN, "--param-rk", OURS, "--prout-type", "5"));
  });

  it("a unit attention (exit 6) is acknowledged and the command retried", async () => {
    const register = out("/dev/sdb", "--register-ignore", "--param-sark", OURS);
    const runner = disk().on(/--read-reservation/, noReservation).on(/--read-keys/, noKeys).on(register, { exitCode: 6, stderr: "Unit attention\n" }, { exitCode: 0 });
    const { code } = await runAction(start(), runner);
    expect(code).toBe(0);
    expect(runner.lines.filter((l) => l === register)).toHaveLength(2);
  });

  it("a path that answers with a reservation conflict fails the start with sg_persist's words", async () => {
    const runner = disk().on(/--read-reservation/, noReservation).on(/--read-keys/, noKeys).on(/--reserve/, { exitCode: 24, stderr: "persistent reserve out: scsi status: Reservation Conflict\n" });
    const { code, stderr } = await runAction(start(), runner);
    expect(code).toBe(1);
    expect(stderr).toContain("Reservation Conflict");
  });

  it("a physical volume on a disk that is not SCSI cannot be fenced this way: refused before anything is sent", async () => {
    const runner = new FakeRunner().on(pvs, { stdout: "  /dev/vda\n" }).on("lsblk --inverse --json -o KNAME,TYPE,SUBSYSTEMS /dev/vda", virtio);
    const { code, stderr } = await runAction(start(), runner);
    expect(code).toBe(1);
    expect(stderr).toContain("/dev/vda lies on vda (disk, block:virtio:pci), not a SCSI disk");
    expect(runner.lines.filter((l) => l.startsWith("sg_persist"))).toEqual([]);
  });

  it.each([[["--key", "0xnothex"]], [["--key", "0x11112222333344445"]], [["--key", ""]]])("%j is a usage error", async (extra) => {
    const argv = ["scsi-reserve-start", "--vg", "vgdata", "--node", "n1", ...extra];
    const { code, runner } = await runAction(argv);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });
});

describe("scsi-reserve-stop", () => {
  it("releases the reservation, then unregisters the key from every path", async () => {
    const runner = disk().on(/--read-reservation/, reservedBy(OURS)).on(/--read-keys/, keys(OURS, OURS));
    expect((await runAction(stop, runner)).code).toBe(0);
    expect(prout(runner)).toEqual([
      out("/dev/sdb", "--release", "--param-rk", OURS, "--prout-type", "5"),
      out("/dev/sdb", "--register-ignore", "--param-rk", OURS),
      out("/dev/sdc", "--register-ignore", "--param-rk", OURS),
    ]);
  });

  it("neither reserved nor registered: nothing to do", async () => {
    const runner = disk().on(/--read-reservation/, noReservation).on(/--read-keys/, keys(FOREIGN));
    expect((await runAction(stop, runner)).code).toBe(0);
    expect(prout(runner)).toEqual([]);
  });
});

describe("keys", () => {
  it("are read and compared as om3 formats them (16 hex digits, sg_persist prints no leading zeros)", () => {
    expect(formatPrKey("0xa")).toBe("0x000000000000000a");
    expect(formatPrKey("0x1234567890123456789")).toBe("0x1234567890123456");
    expect(parseReservation(reservedBy(OURS).stdout)).toBe(OURS);
    expect(parseReservation(noReservation.stdout)).toBe("");
    expect(parseRegistrations(keys(OURS, FOREIGN).stdout)).toEqual([OURS, FOREIGN]);
    expect(parseRegistrations(noKeys.stdout)).toEqual([]);
  });

  it("a node's default key is the same on every run and differs between nodes", () => {
    expect(nodePrKey("n1")).toBe(nodePrKey("n1"));
    expect(nodePrKey("n1")).not.toBe(nodePrKey("n2"));
    expect(nodePrKey("n1")).toMatch(/^0x[0-9a-f]{16}$/);
  });
});
