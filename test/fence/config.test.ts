// The agent's config: every problem named with the file and the key, and `svcc agent` exits 2.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseAgentConfig, unsafeChoices } from "../../src/fence/config.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "../../bin/svcc");
const dir = mkdtempSync(join(tmpdir(), "svcc-agent-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = { node: "n1", nodes: ["n1", "n2"], services: ["db1"], lease: { device: "/dev/loop-lease" } };

describe("agent config", () => {
  it("takes a minimal config with defaults: a real watchdog, reboot as the fence", () => {
    const c = parseAgentConfig(JSON.stringify(good), "agent.json");
    expect(c).toMatchObject({ node: "n1", fence: "reboot", socket: "/run/svcc/agent.sock", lease: { device: "/dev/loop-lease", offset: 0 }, watchdog: { kind: "device", device: "/dev/watchdog" } });
    expect(c.timings).toBeUndefined(); // the lease device's timings rule
    expect(unsafeChoices(c)).toEqual([]);
  });

  it("takes the node name from the hostname (one image for every node), and refuses an unusable one", () => {
    const { node: _n, ...noNode } = good;
    expect(parseAgentConfig(JSON.stringify(noNode), "agent.json", () => "n2.example.com").node).toBe("n2");
    expect(() => parseAgentConfig(JSON.stringify({ ...noNode, nodes: undefined }), "agent.json", () => "localhost")).toThrow(/node: "localhost" is not a usable node name/);
  });

  it('"none" for the watchdog or the fence is accepted only when written, and said everywhere', () => {
    const c = parseAgentConfig(JSON.stringify({ ...good, watchdog: "none", fence: "none" }), "agent.json");
    expect(unsafeChoices(c).join(" ")).toMatch(/watchdog "none".*fence "none"/);
    expect(() => parseAgentConfig(JSON.stringify({ ...good, watchdog: "none", fence: "watchdog" }), "agent.json")).toThrow(/fence: fence "watchdog" needs a watchdog/);
  });

  it("takes etcd as the lease store: TTL defaults to the takeover wait rounded up, prefix to /svcc/; the disk stays the default", () => {
    expect(parseAgentConfig(JSON.stringify(good), "agent.json").lease.kind).toBe("disk");
    const c = parseAgentConfig(JSON.stringify({ ...good, lease: { etcd: { endpoints: ["https://etcd1:2379", "https://etcd2:2379"], tls: { ca: "/etc/svcc/ca.pem", cert: "/etc/svcc/c.pem", key: "/etc/svcc/k.pem" } } } }), "agent.json");
    expect(c.lease).toEqual({ kind: "etcd", endpoints: ["https://etcd1:2379", "https://etcd2:2379"], prefix: "/svcc/", ttlSeconds: 11, tls: { ca: "/etc/svcc/ca.pem", cert: "/etc/svcc/c.pem", key: "/etc/svcc/k.pem" } });
    expect(parseAgentConfig(JSON.stringify({ ...good, lease: { etcd: { endpoints: ["http://e:2379"], prefix: "/site-a", ttl: 30 } } }), "agent.json").lease).toMatchObject({ prefix: "/site-a/", ttlSeconds: 30 });
  });

  it("refuses an etcd TTL shorter than the takeover wait, TLS over http, and unknown etcd keys, naming each", () => {
    const attempt = (etcd: unknown, extra: object = {}) => {
      try {
        parseAgentConfig(JSON.stringify({ ...good, ...extra, lease: { etcd } }), "agent.json");
        return "";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(attempt({ endpoints: ["http://e:2379"], ttl: 5 })).toMatch(/lease\.etcd\.ttl: expected whole seconds from 11 \(the takeover wait, 10100 ms/);
    expect(attempt({ endpoints: ["http://e:2379"], ttl: 3 }, { timings: { renewMs: 250, ioTimeoutMs: 500, leaseMs: 1000, watchdogTimeoutMs: 1000, watchdogResetMs: 200, killWindowMs: 500 } })).toBe("");
    expect(attempt({ endpoints: ["http://e:2379"], tls: { ca: "/ca.pem" } })).toMatch(/lease\.etcd\.endpoints: tls is set but an endpoint is http:\/\//);
    expect(attempt({ endpoints: [], ttls: 3 })).toMatch(/lease\.etcd\.ttls: unknown key[\s\S]*lease\.etcd\.endpoints: expected a non-empty list/);
    expect(attempt({ endpoints: ["https://e:2379"], tls: { ca: "/ca.pem", cert: "/c.pem" } })).toMatch(/lease\.etcd\.tls: .*cert and key together/);
  });

  it("names every bad key and why", () => {
    const bad = { ...good, node: "n9", nodez: [], lease: { device: "loop" }, timings: { leaseMs: 1000 }, fence: "explode", watchdog: { device: "watchdog" } };
    let message = "";
    try {
      parseAgentConfig(JSON.stringify(bad), "agent.json");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("agent.json: nodez: unknown key");
    expect(message).toContain("agent.json: node: this node (n9) is not in nodes (n1, n2)");
    expect(message).toContain("agent.json: lease: expected");
    expect(message).toContain("agent.json: timings: leaseMs (1000) must be at least 2 × renewMs + ioTimeoutMs (5000)");
    expect(message).toContain("agent.json: fence: expected one of reboot, poweroff, crash, watchdog, none");
    expect(message).toContain("agent.json: watchdog: expected");
  });

  it("svcc agent refuses a bad config with exit 2 and starts nothing", () => {
    const file = join(dir, "agent.json");
    writeFileSync(file, JSON.stringify({ ...good, services: [] }));
    const r = spawnSync(process.execPath, [bin, "agent", "--config", file], { encoding: "utf8", timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: services: expected a non-empty list of names`);
    const missing = spawnSync(process.execPath, [bin, "agent", "--config", join(dir, "nope.json")], { encoding: "utf8", timeout: 10_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("nope.json: cannot read the agent config: ENOENT");
  });
});
