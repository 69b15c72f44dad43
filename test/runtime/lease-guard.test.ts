// The lease guard at the head of a service's units: with an agent managing the service on
// this node, no start without this node's valid lease; without one, starting by hand works.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { monotonicNow } from "../../src/fence/clock.js";
import { bootId, formatLeaseFile } from "../../src/fence/lease-file.js";
import { runAction } from "./fakes.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-guard-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const runDir = join(dir, "run");
mkdirSync(runDir);
const config = join(dir, "agent.json");
const guard = (service = "db1", cfg = config) => runAction(["lease-guard", "--service", service, "--agent-config", cfg]);
const lease = (o: { token?: number; validForMs?: number; boot?: string; service?: string }) =>
  writeFileSync(join(runDir, `${o.service ?? "db1"}.lease`), formatLeaseFile({ service: o.service ?? "db1", node: "n1", token: o.token ?? 4, validUntilMs: monotonicNow() + (o.validForMs ?? 3000), bootId: o.boot ?? bootId() }));

describe("lease-guard", () => {
  it("no agent config, or a service it does not list: starting by hand is allowed", async () => {
    const none = await guard("db1", join(dir, "absent.json"));
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("starting it by hand is allowed");
    writeFileSync(config, JSON.stringify({ services: ["db2"], runDir }));
    expect((await guard()).code).toBe(0);
  });

  it("a managed service starts only with this boot's valid lease", async () => {
    writeFileSync(config, JSON.stringify({ services: ["db1"], runDir }));
    rmSync(join(runDir, "db1.lease"), { force: true });
    const absent = await guard();
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain("db1 is managed by the svcc agent and this node does not hold its lease");
    expect(absent.stderr).toContain("svcc switch db1 <node>");
    lease({ validForMs: 3000 });
    const ok = await guard();
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/holds the lease, token 4, valid for \d+ ms more/);
    lease({ validForMs: -500 });
    const expired = await guard();
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/lease \(token 4\) ran out \d+ ms ago/);
    lease({ boot: "another-boot" });
    expect((await guard()).stderr).toContain("is not this boot's lease");
  });

  it("a broken agent config is no reason to let a managed service start", async () => {
    writeFileSync(config, "{ not json");
    const r = await guard();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to start without knowing whether an agent manages this service");
  });
});
