// sd_notify without systemd-notify: the long-lived perl sender against a real unix datagram
// socket (made with python3, which Node cannot do), as systemd's notify socket would receive.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SocketNotifier } from "../../src/fence/notify.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-notify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("notify socket", () => {
  it("each message arrives as one datagram, newlines inside kept, without spawning per message", async () => {
    const path = join(dir, "notify.sock");
    const server = spawn("python3", ["-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
s.settimeout(10)
for _ in range(3):
    print(repr(s.recv(4096).decode()), flush=True)
`, path], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    server.stdout.on("data", (d) => (out += d));
    for (let i = 0; i < 100 && !out.includes("ready"); i++) await new Promise((r) => setTimeout(r, 50));
    const n = new SocketNotifier(path);
    n.send("READY=1");
    n.send("STATUS=db1: held (token 3)\nWATCHDOG=1");
    n.send("STOPPING=1");
    const code = await new Promise<number | null>((resolve) => server.on("close", resolve));
    n.close();
    expect(code).toBe(0);
    expect(out.split("\n").slice(1, 4)).toEqual(["'READY=1'", "'STATUS=db1: held (token 3)\\nWATCHDOG=1'", "'STOPPING=1'"]);
  });

  it("without NOTIFY_SOCKET it sends nothing and starts nothing", () => {
    const n = new SocketNotifier(undefined);
    n.send("READY=1");
    n.close();
  });
});
