// svcc res store-env: configs_environment / secrets_environment read from svcc's store (a tree of
// one file per key) into the unit's env file and the engine's names file, as om3's envprovider
// reads cfg and sec objects. Real files in a temporary store.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyMatcher, parseStoreItem } from "../../src/compiler/store-items.js";
import { parseEnvironmentFile } from "../helpers/systemd-oracle.js";
import { runAction } from "./fakes.js";

const root = mkdtempSync(join(tmpdir(), "svcc-store-env-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function store(keys: Record<string, string>): string {
  const dir = join(root, `store${n++}`);
  for (const [path, value] of Object.entries(keys)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), value);
  }
  return dir;
}

async function storeEnv(dir: string, ...items: string[]) {
  const out = join(root, `out${n++}`);
  const run = await runAction(["store-env", "--store", dir, "--namespace", "prd", ...items, "--out", out]);
  const read = (f: string) => readFileSync(join(out, f), "utf8");
  return { ...run, out, env: run.code === 0 ? parseEnvironmentFile(read("env")) : {}, names: run.code === 0 ? read("names") : "" };
}

describe("store-env", () => {
  it("VAR=<object>/<key> sets VAR to the key's value (a trailing newline dropped), cfg and sec alike", async () => {
    const dir = store({ "cfg/prd/cfg1/max_fds": "1024\n", "sec/prd/db/password": `p%a$s"s \`w\\d`, "sec/prd/cert1/tls/server.pem": "x" });
    const r = await storeEnv(dir, "--cfg", "MAX_FDS=cfg1/max_fds", "--sec", "PW=db/password", "--sec", "CRT=cert1/tls/server.pem");
    expect(r.code, r.stderr).toBe(0);
    expect(r.env).toEqual({ MAX_FDS: "1024", PW: `p%a$s"s \`w\\d`, CRT: "x" });
    expect(r.names).toBe("MAX_FDS\nPW\nCRT\n");
    expect(statSync(join(r.out, "env")).mode & 0o777).toBe(0o600);
    expect(r.stderr).toContain("3 variable(s) from the store: MAX_FDS, PW, CRT");
    expect(r.stderr).not.toContain("p%a$s"); // values never reach the journal
  });

  it("<object>/<matcher> sets one variable per matching key, named by it (fnmatch: * stops at /, a directory matches what is below)", async () => {
    const dir = store({ "sec/prd/s1/key1": "v1", "sec/prd/s1/key2": "v2", "sec/prd/s1/other": "o", "sec/prd/s2/a/B": "b", "sec/prd/s2/a/C": "c", "sec/prd/s2/D": "d" });
    expect((await storeEnv(dir, "--sec", "s1/key*")).env).toEqual({ key1: "v1", key2: "v2" });
    expect((await storeEnv(dir, "--sec", "s1/*")).env).toEqual({ key1: "v1", key2: "v2", other: "o" });
    // a/B is a key path; as a variable name it is refused rather than dropped
    const nested = await storeEnv(dir, "--sec", "s2/a");
    expect(nested.code).toBe(1);
    expect(nested.stderr).toContain("key a/B of prd/sec/s2 is not an environment variable name");
    expect((await storeEnv(dir, "--sec", "s2/[A-D]")).env).toEqual({ D: "d" });
  });

  it("a missing object or key sets nothing and says so, as om3 does (the start goes on)", async () => {
    const dir = store({ "cfg/prd/cfg1/a": "1" });
    const r = await storeEnv(dir, "--cfg", "A=cfg1/a", "--cfg", "B=cfg1/b", "--cfg", "C=nocfg/c", "--sec", "nosec/*", "--cfg", "cfg1/z*");
    expect(r.code, r.stderr).toBe(0);
    expect(r.env).toEqual({ A: "1" });
    expect(r.stderr).toContain("object prd/cfg/cfg1 has no key b: B not set, as OpenSVC does");
    expect(r.stderr).toContain("object prd/cfg/nocfg does not exist");
    expect(r.stderr).toContain("object prd/sec/nosec does not exist");
    expect(r.stderr).toContain("has no key matching z*");
  });

  it("an item om3 reads as nothing sets nothing; a value that cannot be one variable fails the start", async () => {
    const dir = store({ "sec/prd/s/multi": "line1\nline2\n", "sec/prd/s/nul": "a\u0000b" });
    expect((await storeEnv(dir, "--sec", "X=s")).env).toEqual({});
    const multi = await storeEnv(dir, "--sec", "M=s/multi");
    expect(multi.code).toBe(1);
    expect(multi.stderr).toContain("holds a line break or control character");
    expect((await storeEnv(dir, "--sec", "N=s/nul")).code).toBe(1);
  });

  it("a key that is a symlink is refused, not followed", async () => {
    const dir = store({ "sec/prd/s/real": "v" });
    symlinkSync("/etc/hostname", join(dir, "sec/prd/s/link"));
    const r = await storeEnv(dir, "--sec", "L=s/link");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a regular file");
  });

  it.each([
    [["--sec", "s"]], // a matcher without "/": om3 fails on it
    [["--sec", "BAD-NAME=s/k"]],
    [["--sec", "X=../s/k"]],
    [["--sec", "X=s/../k"]],
    [["--namespace", "../etc"]],
  ])("%j is a usage error and writes nothing", async (argv) => {
    const dir = store({});
    const out = join(root, `out${n++}`);
    const withNamespace = argv[0] === "--namespace" ? argv : ["--namespace", "prd", ...argv];
    const r = await runAction(["store-env", "--store", dir, ...withNamespace, "--out", out]);
    expect(r.code).toBe(2);
    expect(() => statSync(out)).toThrow();
  });
});

describe("store items as om3 reads them", () => {
  it("parses VAR=object/key, object/matcher and [], and reads as nothing what om3 reads as nothing", () => {
    expect(parseStoreItem("CRT=cert1/server.pem")).toEqual({ variable: "CRT", object: "cert1", key: "server.pem" });
    expect(parseStoreItem("sec1/*")).toEqual({ object: "sec1", matcher: "*" });
    expect(parseStoreItem("[]")).toBeUndefined();
    expect(parseStoreItem("FOO_SEC=foo_sec")).toHaveProperty("ignored");
    expect(parseStoreItem("A=b=c/d")).toHaveProperty("ignored");
    expect(() => parseStoreItem("foo_sec")).toThrow(/matcher/);
  });

  it("matches keys as fnmatch(FNM_PATHNAME | FNM_LEADING_DIR)", () => {
    const m = (p: string, k: string) => keyMatcher(p).test(k);
    expect(m("*", "a")).toBe(true);
    expect(m("*", "a/b")).toBe(true); // leading dir
    expect(m("a*", "ab/c")).toBe(true);
    expect(m("a?c", "a/c")).toBe(false); // ? stops at /
    expect(m("a[/]c", "a/c")).toBe(false); // so does a class
    expect(m("a.b", "axb")).toBe(false); // . is literal
    expect(m("[!a]x", "bx")).toBe(true);
    expect(m("[!a]x", "ax")).toBe(false);
  });
});
