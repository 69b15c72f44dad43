// Local images for the lab, built from the machine's own files (no registry):
//   local/pause    busybox-static + a shell that holds the netns and exits at once on TERM
//   local/postgres PostgreSQL 15 from /usr/lib/postgresql/15, its libraries (ldd), busybox
// Each is written as a `docker save`-format archive (one layer + an image config) and loaded
// with `docker load`: dockerd 20.10's `docker import -c` refuses STOPSIGNAL, and postgres needs
// SIGINT (fast shutdown) on `docker stop` as in the official image (SIGTERM is its "smart"
// shutdown, which waits for every client to leave).
// Archives are cached under /var/cache/svcc-lab/ keyed by a hash of their inputs.
import { execa } from "execa";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const IMAGE_SRC = path.resolve(HERE, "../../fixtures/lab/images");
export const CACHE_DIR = "/var/cache/svcc-lab";
const RECIPE = "svcc-lab-images-v2";

const PG = "/usr/lib/postgresql/15";
const PG_SHARE = "/usr/share/postgresql/15";
const ZONEINFO = "/usr/share/zoneinfo";
const BUSYBOX = "/bin/busybox";

export const PGDATA = "/var/lib/postgresql/data";

export interface ImageSpec {
  /** Docker repository name, e.g. local/pause */
  name: string;
  /** The image config (Entrypoint, Cmd, Env, User, StopSignal...) */
  config: ImageConfig;
  /** Built (or cached) archive for `docker load` */
  tar: string;
  /** Hash of the inputs (part of the tarball's name) */
  hash: string;
  /** true when the tarball came from the cache */
  cached: boolean;
  /** Milliseconds spent building (hashing included; ~hash time only when cached) */
  buildMs: number;
  bytes: number;
}

export interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env: string[];
  ExposedPorts?: Record<string, object>;
  StopSignal?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export const PAUSE_CONFIG: ImageConfig = {
  Cmd: ["/bin/pause"],
  Env: ["PATH=/usr/bin:/bin"],
  StopSignal: "SIGTERM",
  Labels: { "svcc.lab.image": "pause" },
};
export const POSTGRES_CONFIG: ImageConfig = {
  User: "postgres",
  Entrypoint: ["/bin/pg-entry"],
  Env: [`PATH=${PG}/bin:/usr/bin:/bin`, `PGDATA=${PGDATA}`, "TZ=UTC", "LANG=C"],
  ExposedPorts: { "5432/tcp": {} },
  // Fast shutdown, as the official image: SIGTERM would be postgres's "smart" shutdown.
  StopSignal: "SIGINT",
  WorkingDir: "/",
  Labels: { "svcc.lab.image": "postgres" },
};

function statKey(p: string): string {
  const s = fs.statSync(p);
  return `${p}\t${s.size}\t${Math.trunc(s.mtimeMs)}`;
}

function walk(dir: string, skip: (rel: string) => boolean, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skip(r)) continue;
    if (e.isDirectory()) out.push(...walk(dir, skip, r));
    else out.push(r);
  }
  return out.sort();
}

function isElf(p: string): boolean {
  const fd = fs.openSync(p, "r");
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.toString("latin1") === "\x7fELF";
  } finally {
    fs.closeSync(fd);
  }
}

const skipPg = (rel: string) => rel === "lib/bitcode" || rel.startsWith("lib/llvmjit") || rel === "lib/pgxs";

/** Libraries the dynamic loader resolves for the given ELF files; files with an unresolved one are reported. */
async function libsOf(files: string[]): Promise<{ libs: string[]; unresolved: string[] }> {
  const libs = new Set<string>();
  const unresolved = new Set<string>();
  // One ldd for all files: it prints "file:" before each file's list.
  const r = await execa("ldd", files, { reject: false, timeout: 60_000 });
  let current = "";
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("\t") && line.endsWith(":")) {
      current = line.slice(0, -1);
      continue;
    }
    if (/not found/.test(line)) unresolved.add(current);
    const m = line.match(/=>\s+(\/\S+)\s+\(/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.add(m[1]);
  }
  return { libs: [...libs].sort(), unresolved: [...unresolved] };
}

/** /lib/x → /usr/lib/x (the image is merged-/usr like Debian 12) */
function usrPath(p: string): string {
  return p.replace(/^\/(lib|lib64|bin|sbin)\//, "/usr/$1/");
}

function hashOf(parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\n");
  return h.digest("hex").slice(0, 16);
}

/** Tars root as the single layer of a `docker save` archive named repo:latest with config. */
async function makeImageArchive(root: string, out: string, repo: string, config: ImageConfig): Promise<number> {
  const dir = `${out}.d.${process.pid}`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  try {
    const layerTmp = path.join(dir, "layer.tar");
    await execa("tar", ["--numeric-owner", "--sort=name", "-C", root, "-cf", layerTmp, "."], { timeout: 120_000 });
    const diffId = createHash("sha256").update(fs.readFileSync(layerTmp)).digest("hex");
    fs.mkdirSync(path.join(dir, diffId));
    fs.renameSync(layerTmp, path.join(dir, diffId, "layer.tar"));
    const created = "2024-01-01T00:00:00Z";
    const cfg = JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created,
      config,
      rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
      history: [{ created, created_by: "svcc test/lab/images.ts" }],
    });
    const cfgId = createHash("sha256").update(cfg).digest("hex");
    fs.writeFileSync(path.join(dir, `${cfgId}.json`), cfg);
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify([{ Config: `${cfgId}.json`, RepoTags: [`${repo}:latest`], Layers: [`${diffId}/layer.tar`] }]));
    const tmp = `${out}.tmp.${process.pid}`;
    await execa("tar", ["-C", dir, "-cf", tmp, "manifest.json", `${cfgId}.json`, diffId], { timeout: 120_000 });
    fs.renameSync(tmp, out);
    return fs.statSync(out).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function mergedUsrSkeleton(root: string) {
  for (const d of ["usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "etc", "tmp", "proc", "sys", "dev", "run"]) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
  }
  for (const d of ["bin", "lib", "lib64", "sbin"]) fs.symlinkSync(`usr/${d}`, path.join(root, d));
  fs.chmodSync(path.join(root, "tmp"), 0o1777);
  fs.symlinkSync("../run", path.join(root, "var/run"), "dir");
}

function busybox(root: string, applets: string[]) {
  fs.copyFileSync(BUSYBOX, path.join(root, "usr/bin/busybox"));
  fs.chmodSync(path.join(root, "usr/bin/busybox"), 0o755);
  for (const a of applets) fs.symlinkSync("busybox", path.join(root, "usr/bin", a));
}

function freshBuildDir(name: string): string {
  const dir = path.join(CACHE_DIR, `build-${name}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "var"), { recursive: true });
  return dir;
}

function cached(name: string, hash: string): string | undefined {
  const tar = path.join(CACHE_DIR, `${name}-${hash}.tar`);
  return fs.existsSync(tar) ? tar : undefined;
}

/** Drop older tarballs of the same image. */
function prune(name: string, keep: string) {
  for (const f of fs.readdirSync(CACHE_DIR)) {
    if (f.startsWith(`${name}-`) && f.endsWith(".tar") && path.join(CACHE_DIR, f) !== keep) {
      fs.rmSync(path.join(CACHE_DIR, f), { force: true });
    }
  }
}

export async function buildPause(): Promise<ImageSpec> {
  const t0 = performance.now();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const script = path.join(IMAGE_SRC, "pause/pause.sh");
  const hash = hashOf([RECIPE, "pause", fs.readFileSync(script, "utf8"), statKey(BUSYBOX), JSON.stringify(PAUSE_CONFIG)]);
  const hit = cached("pause", hash);
  if (hit) {
    return { name: "local/pause", config: PAUSE_CONFIG, tar: hit, hash, cached: true, buildMs: performance.now() - t0, bytes: fs.statSync(hit).size };
  }
  const root = freshBuildDir("pause");
  try {
    mergedUsrSkeleton(root);
    busybox(root, ["sh", "sleep", "ip", "cat", "ls"]);
    fs.copyFileSync(script, path.join(root, "usr/bin/pause"));
    fs.chmodSync(path.join(root, "usr/bin/pause"), 0o755);
    const tar = path.join(CACHE_DIR, `pause-${hash}.tar`);
    const bytes = await makeImageArchive(root, tar, "local/pause", PAUSE_CONFIG);
    prune("pause", tar);
    return { name: "local/pause", config: PAUSE_CONFIG, tar, hash, cached: false, buildMs: performance.now() - t0, bytes };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export async function buildPostgres(): Promise<ImageSpec> {
  const t0 = performance.now();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  for (const p of [PG, PG_SHARE, ZONEINFO, BUSYBOX]) {
    if (!fs.existsSync(p)) throw new Error(`local/postgres: ${p} is missing (run test/lab/install-deps.sh)`);
  }
  const entry = path.join(IMAGE_SRC, "postgres/pg-entry.sh");
  const pgFiles = walk(PG, skipPg);
  const elves = pgFiles.map((r) => path.join(PG, r)).filter((p) => !fs.lstatSync(p).isSymbolicLink() && isElf(p));
  const { libs, unresolved } = await libsOf(elves);
  const keyParts = [
    RECIPE,
    "postgres",
    fs.readFileSync(entry, "utf8"),
    JSON.stringify(POSTGRES_CONFIG),
    statKey(BUSYBOX),
    ...pgFiles.map((r) => statKey(path.join(PG, r))),
    ...walk(PG_SHARE, () => false).map((r) => statKey(path.join(PG_SHARE, r))),
    ...libs.map((l) => `${l}\t${fs.realpathSync(l)}\t${statKey(fs.realpathSync(l))}`),
    ZONEINFO + "\t" + fs.statSync(ZONEINFO).mtimeMs,
  ];
  const hash = hashOf(keyParts);
  const hit = cached("postgres", hash);
  if (hit) {
    return { name: "local/postgres", config: POSTGRES_CONFIG, tar: hit, hash, cached: true, buildMs: performance.now() - t0, bytes: fs.statSync(hit).size };
  }
  const root = freshBuildDir("postgres");
  try {
    mergedUsrSkeleton(root);
    busybox(root, ["sh", "mkdir", "chmod", "cat", "ls", "id", "rm", "sleep", "env", "grep", "sed", "ps"]);
    // PostgreSQL itself, without the JIT and the build kit.
    fs.mkdirSync(path.join(root, "usr/lib/postgresql"), { recursive: true });
    fs.mkdirSync(path.join(root, "usr/share/postgresql"), { recursive: true });
    await execa("cp", ["-a", PG, path.join(root, "usr/lib/postgresql/")], { timeout: 120_000 });
    for (const r of ["lib/bitcode", "lib/pgxs"]) fs.rmSync(path.join(root, "usr/lib/postgresql/15", r), { recursive: true, force: true });
    for (const f of fs.readdirSync(path.join(root, "usr/lib/postgresql/15/lib"))) {
      if (f.startsWith("llvmjit")) fs.rmSync(path.join(root, "usr/lib/postgresql/15/lib", f), { force: true });
    }
    for (const u of unresolved) fs.rmSync(path.join(root, u), { force: true });
    await execa("cp", ["-a", PG_SHARE, path.join(root, "usr/share/postgresql/")], { timeout: 120_000 });
    await execa("cp", ["-a", ZONEINFO, path.join(root, "usr/share/")], { timeout: 120_000 });
    // Every library ldd names, at its merged-/usr path, symlinks resolved.
    for (const l of libs) {
      const dst = path.join(root, usrPath(l));
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      if (!fs.existsSync(dst)) fs.copyFileSync(fs.realpathSync(l), dst);
    }
    fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh\n");
    fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\npostgres:x:999:\n");
    fs.writeFileSync(path.join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files\n");
    fs.writeFileSync(path.join(root, "etc/hosts"), "127.0.0.1 localhost\n");
    for (const [d, mode] of [["var/lib/postgresql", 0o755], ["run/postgresql", 0o2775]] as const) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      fs.chownSync(path.join(root, d), 999, 999);
      fs.chmodSync(path.join(root, d), mode);
    }
    fs.copyFileSync(entry, path.join(root, "usr/bin/pg-entry"));
    fs.chmodSync(path.join(root, "usr/bin/pg-entry"), 0o755);
    const tar = path.join(CACHE_DIR, `postgres-${hash}.tar`);
    const bytes = await makeImageArchive(root, tar, "local/postgres", POSTGRES_CONFIG);
    prune("postgres", tar);
    return { name: "local/postgres", config: POSTGRES_CONFIG, tar, hash, cached: false, buildMs: performance.now() - t0, bytes };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export async function buildImages(): Promise<ImageSpec[]> {
  return [await buildPause(), await buildPostgres()];
}
