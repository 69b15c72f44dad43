// The decision function, case by case: a fake observation in, the actions out.

import { describe, expect, it } from "vitest";
import { decide, type Observation } from "../../src/fence/decide.js";

const base: Observation = {
  self: "n1",
  now: 10_000,
  nodes: ["n1", "n2"],
  orchestrate: "no",
  renewFailing: false,
  liveNodes: new Set(["n1", "n2"]),
  frozen: false,
  target: "inactive",
  anyMemberUp: false,
  monitorFailed: false,
  holdDown: new Map(),
  killWindowMs: 4000,
};
const held = { token: 3, localDeadline: 14_000 };
const kinds = (o: Partial<Observation>) => decide({ ...base, ...o }).map((a) => a.kind);

describe("decide", () => {
  it("orchestrate=no does nothing without a request", () => {
    expect(kinds({})).toEqual([]);
  });

  it("a placement here acquires, then starts with the token", () => {
    expect(kinds({ placement: "n1" })).toEqual(["acquire"]);
    expect(decide({ ...base, placement: "n1", held })).toEqual([expect.objectContaining({ kind: "start", token: 3 })]);
  });

  it("never acquires while another node may still act", () => {
    expect(kinds({ placement: "n1", liveHolder: "n2" })).toEqual([]);
  });

  it("orchestrate=start/ha picks the first live node that is not held down", () => {
    expect(kinds({ orchestrate: "start" })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", self: "n2" })).toEqual([]);
    expect(kinds({ orchestrate: "ha", self: "n2", liveNodes: new Set(["n2"]) })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", self: "n2", holdDown: new Map([["n1", 20_000]]) })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", frozen: true })).toEqual([]);
  });

  it("a switch away stops here, and releases only once everything is down", () => {
    expect(kinds({ held, placement: "n2", target: "active", anyMemberUp: true })).toEqual(["stop"]);
    expect(kinds({ held, placement: "n2", target: "deactivating", anyMemberUp: true })).toEqual([]);
    expect(kinds({ held, placement: "n2", target: "inactive", anyMemberUp: true })).toEqual(["stop"]);
    expect(kinds({ held, placement: "n2" })).toEqual(["release"]);
  });

  it("losing the lease store: stop at once, kill at the deadline, fence after the kill window", () => {
    const running = { held, renewFailing: true, target: "active" as const, anyMemberUp: true };
    expect(kinds({ ...running, now: 12_000 })).toEqual(["stop"]);
    expect(kinds({ ...running, now: 14_000 })).toEqual(["kill"]);
    expect(kinds({ ...running, now: 18_000 })).toEqual(["fence"]);
    expect(kinds({ ...running, now: 18_000, target: "inactive", anyMemberUp: false })).toEqual([]);
  });

  it("anything running here without the lease is stopped", () => {
    expect(kinds({ target: "active", anyMemberUp: true })).toEqual(["stop"]);
    expect(kinds({ target: "active", anyMemberUp: true, unleasedSince: 5_000 })).toEqual(["kill"]);
    expect(kinds({ target: "active", anyMemberUp: true, unleasedSince: 1_000 })).toEqual(["fence"]);
    expect(kinds({ target: "inactive", anyMemberUp: true, held: { token: 1, localDeadline: 20_000 }, renewFailing: true })).toEqual(["stop"]);
  });

  it("a monitored failure with orchestrate=ha holds this node down and places the service on the next", () => {
    const actions = decide({ ...base, held, orchestrate: "ha", monitorFailed: true, target: "failed", anyMemberUp: false });
    expect(actions).toEqual([expect.objectContaining({ kind: "hold-down", node: "n1" }), expect.objectContaining({ kind: "set-placement", node: "n2" })]);
  });

  it("under orchestrate=ha a placement on a dead node gives way to failover; otherwise it waits", () => {
    const deadPlacement = { self: "n2", placement: "n1", liveNodes: new Set(["n2"]) };
    expect(decide({ ...base, ...deadPlacement, orchestrate: "ha" })).toEqual([expect.objectContaining({ kind: "acquire", failover: true })]);
    expect(kinds({ ...deadPlacement, orchestrate: "no" })).toEqual([]);
    expect(kinds({ ...deadPlacement, orchestrate: "ha", frozen: true })).toEqual([]);
    expect(kinds({ self: "n2", placement: "n1", orchestrate: "ha" })).toEqual([]);
  });

  it("a monitored failure already acted on (placed elsewhere) hands over instead of repeating itself", () => {
    expect(kinds({ held, orchestrate: "ha", monitorFailed: true, placement: "n2", target: "inactive" })).toEqual(["release"]);
    expect(kinds({ held, orchestrate: "ha", monitorFailed: true, placement: "n2", target: "active", anyMemberUp: true })).toEqual(["stop"]);
  });

  it("a failed target is not restarted by the agent (systemd does local restarts)", () => {
    expect(kinds({ held, target: "failed" })).toEqual([]);
  });

  it("placement '' stops everywhere and releases", () => {
    expect(kinds({ held, placement: "", target: "active", anyMemberUp: true })).toEqual(["stop"]);
    expect(kinds({ held, placement: "" })).toEqual(["release"]);
  });
});
