// Where a published config lands on a node (`svcc deploy`): the services directory the
// boot-time generator reads (/etc/svcc/services), so the generator stays the one path from
// config to units, at boot and after a deploy. The config is written atomically (temp file,
// fsync, rename), readable by root only, then the version it came from (a small file beside
// it, which the generator ignores), then systemd reloads. A crash in between leaves the old
// version recorded: the agent installs again, which changes nothing twice.

import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ConfigVersion } from "./lease/config-area.js";

export interface InstalledConfig {
  n: number;
  hash: string;
}

/** The agent's side effects for published configs (the simulator and unit tests use fakes). */
export interface ConfigInstaller {
  /** The version installed here, or undefined (never deployed here, or installed by hand). */
  installed(service: string): InstalledConfig | undefined;
  /** Installs the text as service's config and reloads systemd (its generator makes the units). */
  install(service: string, text: string, version: ConfigVersion): Promise<void>;
  /** Removes service's config and reloads systemd (its units go with it). */
  remove(service: string, version: ConfigVersion): Promise<void>;
}

/** JSON when it looks like JSON (as the compiler decides from content), else OpenSVC INI. */
export function configFileName(service: string, text: string): string {
  return `${service}.${text.trimStart().startsWith("{") ? "json" : "conf"}`;
}

const EXTENSIONS = ["json", "conf", "ini"];

export class HostConfigInstaller implements ConfigInstaller {
  constructor(
    private readonly dir: string,
    /** systemctl daemon-reload, bounded. */
    private readonly reload: () => Promise<void>,
  ) {}

  private versionFile(service: string): string {
    return join(this.dir, `${service}.svcc-version`);
  }

  installed(service: string): InstalledConfig | undefined {
    try {
      const v = JSON.parse(readFileSync(this.versionFile(service), "utf8")) as InstalledConfig;
      return typeof v.n === "number" && typeof v.hash === "string" ? { n: v.n, hash: v.hash } : undefined;
    } catch {
      return undefined;
    }
  }

  async install(service: string, text: string, version: ConfigVersion): Promise<void> {
    const name = configFileName(service, text);
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    writeAtomically(join(this.dir, name), text);
    // A config of the service under another extension would define it twice for the generator.
    for (const ext of EXTENSIONS) if (`${service}.${ext}` !== name) rmSync(join(this.dir, `${service}.${ext}`), { force: true });
    await this.reload();
    writeAtomically(this.versionFile(service), `${JSON.stringify({ n: version.n, hash: version.hash, by: version.by })}\n`);
  }

  async remove(service: string, version: ConfigVersion): Promise<void> {
    for (const ext of EXTENSIONS) rmSync(join(this.dir, `${service}.${ext}`), { force: true });
    await this.reload();
    writeAtomically(this.versionFile(service), `${JSON.stringify({ n: version.n, hash: version.hash, by: version.by, deleted: true })}\n`);
  }
}

/** Temp file beside it (O_EXCL, never a symlink followed, mode 0600), fsync, rename. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}
