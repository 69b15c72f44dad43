// The control socket: the agent makes its own 0700 directory (and refuses, untouched, one that
// others could write to or that is a link), the socket is created under umask 077, and a user
// other than root cannot connect.

import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/fence/agent.js";
import { prepareSocketDir, requestControl, serveControl } from "../../src/fence/control.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-control-"));
chmodSync(dir, 0o755); // others may traverse it, as /run
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

const stubAgent = {
  knows: (s: string) => s === "db1",
  serviceNames: () => ["db1"],
  status: () => ({ node: "n1", services: [{ service: "db1" }] }),
} as unknown as Agent;

describe("control socket directory", () => {
  it("creates a missing directory 0700", () => {
    const d = join(dir, "made/run");
    prepareSocketDir(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
  });

  it("refuses a directory others can write to, and leaves its mode alone", () => {
    const d = join(dir, "shared");
    mkdirSync(d, { mode: 0o777 });
    chmodSync(d, 0o1777);
    expect(() => prepareSocketDir(d)).toThrow(/writable by group or others .* refusing/);
    expect(statSync(d).mode & 0o7777).toBe(0o1777);
  });

  it("refuses a symbolic link and a directory owned by someone else", () => {
    const real = join(dir, "real");
    mkdirSync(real, { mode: 0o700 });
    const link = join(dir, "link");
    symlinkSync(real, link);
    expect(() => prepareSocketDir(link)).toThrow(/symbolic link/);
    if (isRoot) {
      const theirs = join(dir, "theirs");
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      expect(() => prepareSocketDir(theirs)).toThrow(/belongs to uid 65534/);
    }
  });
});

describe.runIf(isRoot)("control socket (as root)", () => {
  it("root is answered; another user cannot connect; the socket has no group or other bits", async () => {
    const d = join(dir, "sock");
    const socket = join(d, "agent.sock");
    const server = await serveControl(stubAgent, socket);
    try {
      expect(lstatSync(socket).mode & 0o077).toBe(0);
      const r = await requestControl(socket, { cmd: "status" }, () => undefined);
      expect(r).toMatchObject({ done: true, ok: true, data: { node: "n1" } });
      const unknown = await requestControl(socket, { cmd: "status", service: "db9" }, () => undefined);
      expect(unknown.error).toContain("unknown service db9");
      // nobody (uid 65534), through a directory it may traverse:
      chmodSync(d, 0o711);
      const client = `require("net").createConnection(${JSON.stringify(socket)}).on("connect",()=>{console.log("CONNECTED");process.exit(0)}).on("error",(e)=>{console.log(e.code);process.exit(0)})`;
      const r2 = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", client], { encoding: "utf8", timeout: 10_000 });
      expect(r2.stdout.trim()).toBe("EACCES");
    } finally {
      server.close();
    }
  });

  it("replaces a socket left by an earlier agent, refuses to replace anything else", async () => {
    const d = join(dir, "sock2");
    mkdirSync(d, { mode: 0o700 });
    const socket = join(d, "agent.sock");
    const first = await serveControl(stubAgent, socket);
    first.close();
    await new Promise((r) => setTimeout(r, 50));
    const second = await serveControl(stubAgent, socket);
    second.close();
    const file = join(d, "not-a-socket");
    writeFileSync(file, "data");
    await expect(serveControl(stubAgent, file)).rejects.toThrow(/is not a socket: refusing to replace it/);
  });
});
