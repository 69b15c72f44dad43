// The watchdog that makes "a silent node is dead" true. The agent pets it only while it is
// safe (every service is either down here or held under a valid lease); a node that hangs,
// loses its agent or cannot stop a service in time stops being petted and is reset before
// any peer may take over (docs/agent.md). Kinds:
// - device: /dev/watchdog (hardware, or the softdog module): opened by the agent, timeout set
//   and read back with the WDIOC ioctls, magic close ("V") only on a clean stop holding
//   nothing; closed without it (a crash, a restart), the device keeps counting and resets the
//   node unless the next agent pets it in time.
// - emulated: a stamp file a watcher outside the node checks (the lab's stand-in for hardware).
// - none: written explicitly in the config; nothing resets a hung node: a warning everywhere.

import { spawn } from "node:child_process";
import { closeSync, constants, fstatSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { mkdirSync } from "node:fs";

export interface Watchdog {
  readonly kind: "device" | "emulated" | "none";
  readonly description: string;
  /** The timeout the device actually has, once opened (undefined: unknown or none). */
  readonly timeoutMs: number | undefined;
  readonly armed: boolean;
  /** Arms it (opening a device counts as a pet): call only when petting is safe. */
  open(): Promise<void>;
  pet(): void;
  /** disarm: the magic close (only on a clean stop holding nothing); otherwise it keeps counting. */
  close(disarm: boolean): void;
}

export class NoWatchdog implements Watchdog {
  readonly kind = "none";
  readonly description = "none (configured explicitly): nothing resets this node if it hangs while holding a lease";
  readonly timeoutMs = undefined;
  readonly armed = false;
  async open(): Promise<void> {}
  pet(): void {}
  close(): void {}
}

/** The stamp's width: a pid, a dot and a pet count, padded so each write covers the last. */
const STAMP_WIDTH = 32;

/** The lab's emulated hardware: a watcher outside the node resets it when the stamp stops changing. */
export class EmulatedWatchdog implements Watchdog {
  readonly kind = "emulated";
  armed = false;
  private n = 0;
  constructor(
    private readonly stampFile: string,
    readonly timeoutMs: number,
  ) {}
  get description(): string {
    return `emulated (stamp file ${this.stampFile}, ${this.timeoutMs} ms, checked from outside the node)`;
  }
  private fd?: number;
  async open(): Promise<void> {
    mkdirSync(dirname(this.stampFile), { recursive: true, mode: 0o700 });
    this.fd = openSync(this.stampFile, "w");
    this.armed = true;
    this.pet();
  }
  pet(): void {
    if (!this.armed || this.fd === undefined) return;
    this.n += 1;
    // One write on the open file, at a fixed width, as a device's pet is one write on its fd
    // (the watcher only looks for a change; an open, write and close every second cost the
    // idle lab agent more than the real device does).
    writeSync(this.fd, `${process.pid}.${this.n}`.padEnd(STAMP_WIDTH) + "\n", 0);
  }
  close(disarm: boolean): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (disarm) rmSync(this.stampFile, { force: true });
    this.armed = false;
  }
}

/** Runs the WDIOC ioctls on an already open watchdog fd (Node has no ioctl; perl-base is on every Debian system). */
export type WatchdogIoctl = (fd: number, setSeconds: number | undefined) => Promise<{ seconds?: number; error?: string }>;

const WDIOC_SCRIPT = `
use strict;
open(my $fh, ">&=", 3) or do { print "error fd: $!\\n"; exit 0 };
my $want = $ARGV[0];
if ($want > 0) { my $b = pack("i", $want); ioctl($fh, 0xC0045706, $b) or do { print "error WDIOC_SETTIMEOUT: $!\\n"; exit 0 } }
my $g = pack("i", 0);
ioctl($fh, 0x80045707, $g) or do { print "error WDIOC_GETTIMEOUT: $!\\n"; exit 0 };
print "timeout ", unpack("i", $g), "\\n";
`;

export const perlIoctl: WatchdogIoctl = (fd, setSeconds) =>
  new Promise((resolve) => {
    const child = spawn("perl", ["-e", WDIOC_SCRIPT, String(setSeconds ?? 0)], { stdio: ["ignore", "pipe", "ignore", fd] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.stdout!.on("data", (d) => (out += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ error: `cannot run perl for the watchdog ioctls: ${err.message}` });
    });
    child.on("close", () => {
      clearTimeout(timer);
      const m = /^timeout (\d+)/m.exec(out);
      resolve(m ? { seconds: Number(m[1]) } : { error: out.trim().replace(/^error /, "") || "no answer from the ioctl helper" });
    });
  });

/** The device's timeout from sysfs (/sys/dev/char/MAJ:MIN/timeout), for devices that refuse the ioctl. */
export function sysfsTimeoutSeconds(fd: number, sysRoot = "/sys"): number | undefined {
  try {
    const rdev = fstatSync(fd).rdev;
    const major = Math.floor(rdev / 256) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    const n = Number(readFileSync(`${sysRoot}/dev/char/${major}:${minor}/timeout`, "utf8").trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export class DeviceWatchdog implements Watchdog {
  readonly kind = "device";
  private fd?: number;
  timeoutMs: number | undefined;
  /** Why the timeout could not be set, if it could not. */
  setError?: string;

  constructor(
    readonly path: string,
    /** The timeout to set (seconds), from the lease timings; the device may round it. */
    private readonly wantSeconds: number | undefined,
    private readonly ioctl: WatchdogIoctl = perlIoctl,
    private readonly sysRoot = "/sys",
  ) {}

  get description(): string {
    return `device ${this.path}${this.timeoutMs !== undefined ? ` (${this.timeoutMs / 1000} s)` : ""}`;
  }

  get armed(): boolean {
    return this.fd !== undefined;
  }

  async open(): Promise<void> {
    if (this.fd !== undefined) return;
    // O_WRONLY | O_CLOEXEC (0o2000000, which fs.constants lacks): children (docker, lvm) must not inherit it, or a child outliving
    // the agent would hold the device open.
    this.fd = openSync(this.path, constants.O_WRONLY | 0o2000000);
    // Reopening a device a previous agent left counting does not ping it: pet before the ioctl helper (a process start) runs.
    this.pet();
    const r = await this.ioctl(this.fd, this.wantSeconds);
    if (r.seconds !== undefined) this.timeoutMs = r.seconds * 1000;
    else {
      this.setError = r.error;
      const s = sysfsTimeoutSeconds(this.fd, this.sysRoot);
      this.timeoutMs = s === undefined ? undefined : s * 1000;
    }
    this.pet();
  }

  pet(): void {
    if (this.fd !== undefined) writeSync(this.fd, "1");
  }

  close(disarm: boolean): void {
    if (this.fd === undefined) return;
    if (disarm) writeSync(this.fd, "V");
    closeSync(this.fd);
    this.fd = undefined;
  }
}
