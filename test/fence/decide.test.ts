// The agent's decisions, case by case: an observation in, the actions (and escalation) out.

import { describe, expect, it } from "vitest";
import { admit, type AdmissionView, decide, escalation, firstUsableNode, type LocalView, type Observation, wantedNode } from "../../src/fence/decide.js";

const down: LocalView = { target: "inactive", up: false, failed: false, runtimeFailure: false, provenDown: true, monitorFailed: false };
const running: LocalView = { target: "active", up: true, failed: false, runtimeFailure: false, provenDown: false, monitorFailed: false };

const base: Observation = {
  self: "n1",
  now: 10_000,
  nodes: ["n1", "n2", "n3"],
  orchestrate: "no",
  lease: { validUntil: -Infinity, lost: false },
  intent: { frozen: false },
  liveNodes: new Set(["n1", "n2", "n3"]),
  heldDown: new Set(),
  local: down,
  startFailed: false,
  timings: { leaseMs: 4000, killWindowMs: 2000, stopMarginMs: 2000 },
};
const held = { token: 3, validUntil: 14_000, lost: false };
type Change = Omit<Partial<Observation>, "lease" | "intent" | "local"> & { lease?: Partial<Observation["lease"]>; intent?: Partial<Observation["intent"]>; local?: Partial<LocalView> };
const obs = (o: Change): Observation => ({ ...base, ...o, lease: { ...base.lease, ...o.lease }, intent: { ...base.intent, ...o.intent }, local: { ...base.local, ...o.local } } as Observation);
const kinds = (o: Change) => decide(obs(o)).map((a) => a.kind);

describe("decide", () => {
  it("orchestrate=no does nothing without a request", () => {
    expect(kinds({})).toEqual([]);
  });

  it("a placement here acquires, then starts with the token", () => {
    expect(kinds({ intent: { placement: "n1" } })).toEqual(["acquire"]);
    expect(decide(obs({ intent: { placement: "n1" }, lease: held }))).toEqual([expect.objectContaining({ kind: "start", token: 3 })]);
  });

  it("never acquires while another node may still act, or while anything of it is up here", () => {
    expect(kinds({ intent: { placement: "n1" }, lease: { liveHolder: "n2" } })).toEqual([]);
    expect(kinds({ intent: { placement: "n1" }, local: { failed: true } })).toEqual([]);
    expect(kinds({ intent: { placement: "n1" }, job: "stop" })).toEqual([]);
  });

  it("orchestrate=start/ha picks the first live node that is not held down", () => {
    expect(kinds({ orchestrate: "start" })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", self: "n2" })).toEqual([]);
    expect(kinds({ orchestrate: "ha", self: "n2", liveNodes: new Set(["n2", "n3"]) })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", self: "n2", heldDown: new Set(["n1"]) })).toEqual(["acquire"]);
    expect(kinds({ orchestrate: "ha", intent: { frozen: true } })).toEqual([]);
    expect(firstUsableNode({ nodes: ["a", "b", "c"], liveNodes: new Set(["b", "c"]), heldDown: new Set(["b"]) })).toBe("c");
  });

  it("a running service stays where it is: a node that comes back does not pull it over", () => {
    // n2 holds it; n1 (first in the list) is live again.
    expect(wantedNode(obs({ self: "n2", orchestrate: "ha", lease: held, local: running }))).toBe("n2");
    expect(kinds({ self: "n2", orchestrate: "ha", lease: held, local: running })).toEqual([]);
    expect(wantedNode(obs({ orchestrate: "ha", lease: { liveHolder: "n2" } }))).toBe("n2");
    expect(kinds({ orchestrate: "ha", lease: { liveHolder: "n2" } })).toEqual([]);
  });

  it("a switch away stops here, and releases only once every resource is proven down", () => {
    expect(kinds({ lease: held, intent: { placement: "n2" }, local: running })).toEqual(["stop"]);
    expect(kinds({ lease: held, intent: { placement: "n2" }, local: { ...down, failed: true, provenDown: false } })).toEqual(["stop"]);
    expect(kinds({ lease: held, intent: { placement: "n2" }, local: { ...down, provenDown: false } })).toEqual(["stop"]);
    expect(kinds({ lease: held, intent: { placement: "n2" } })).toEqual(["release"]);
    expect(kinds({ lease: held, intent: { placement: "n2" }, job: "stop" })).toEqual([]);
  });

  it("placement '' stops everywhere and releases", () => {
    expect(kinds({ lease: held, intent: { placement: "" }, local: running })).toEqual(["stop"]);
    expect(kinds({ lease: held, intent: { placement: "" } })).toEqual(["release"]);
  });

  it("nothing starts on a lease in doubt (its renews failing, the deadline near)", () => {
    expect(kinds({ lease: held, intent: { placement: "n1" }, now: 11_999 })).toEqual(["start"]);
    expect(kinds({ lease: held, intent: { placement: "n1" }, now: 12_000 })).toEqual([]);
  });

  it("a failure while running is reported, not restarted; failed units left by our own jobs are redone", () => {
    expect(kinds({ lease: held, intent: { placement: "n1" }, local: { ...down, failed: true, runtimeFailure: true, provenDown: false } })).toEqual([]);
    expect(kinds({ lease: held, intent: { placement: "n1" }, local: { ...down, failed: true, provenDown: false } })).toEqual(["start"]);
    // The target down with members left up (after a kill): the start completes it.
    expect(kinds({ lease: held, intent: { placement: "n1" }, local: { ...down, up: true, provenDown: false } })).toEqual(["start"]);
  });

  it("a failed start rolls back, holds this node down, releases and places the service on the next usable node", () => {
    expect(kinds({ lease: held, orchestrate: "ha", startFailed: true, local: { ...down, failed: true, provenDown: false } })).toEqual(["stop"]);
    const handOver = decide(obs({ lease: held, orchestrate: "ha", startFailed: true, heldDown: new Set(["n2"]) }));
    expect(handOver).toEqual([expect.objectContaining({ kind: "hold-down" }), expect.objectContaining({ kind: "release" }), expect.objectContaining({ kind: "set-placement", node: "n3", origin: "rollback" })]);
    const nobody = decide(obs({ lease: held, startFailed: true, liveNodes: new Set(["n1"]) }));
    expect(nobody.at(-1)).toEqual(expect.objectContaining({ kind: "set-placement", node: "" }));
  });

  it("a monitored failure under orchestrate=ha holds this node down and places the service on the next", () => {
    const actions = decide(obs({ lease: held, orchestrate: "ha", local: { ...running, monitorFailed: true } }));
    expect(actions).toEqual([expect.objectContaining({ kind: "hold-down" }), expect.objectContaining({ kind: "set-placement", node: "n2", origin: "monitor" })]);
    // Once placed elsewhere, the failure has been acted on: hand over instead of repeating it.
    expect(kinds({ lease: held, orchestrate: "ha", intent: { placement: "n2" }, local: { ...down, monitorFailed: true } })).toEqual(["release"]);
  });

  describe("health checks (issue 16)", () => {
    const sick = { rid: "container#1", unit: "db1-container1.service", why: "unhealthy", restartsLeft: 1, restartDelayMs: 500 };
    const sickHere = (o: Change = {}) => obs({ lease: held, orchestrate: "ha", monitorAction: "switch", ...o, local: { ...running, sick, ...o.local } });

    it("a failed check of a monitored resource restarts it in place, with its delay and this lease's token", () => {
      expect(decide(sickHere())).toEqual([{ kind: "restart", token: 3, rid: "container#1", unit: "db1-container1.service", delayMs: 500, reason: "container#1 failed its check (unhealthy)" }]);
      // Whatever the orchestration or monitor_action: a restart in place is the resource's own.
      expect(kinds({ lease: held, orchestrate: "no", monitorAction: "none", local: { ...running, sick } })).toEqual(["restart"]);
    });

    it("never restarts on a lease in doubt, without the lease, during a job, frozen, placed elsewhere, or while the target is not active", () => {
      expect(kinds({ lease: { ...held, validUntil: 11_500 }, orchestrate: "ha", local: { ...running, sick } })).toEqual([]);
      expect(kinds({ orchestrate: "ha", local: { ...running, sick } }).includes("restart")).toBe(false);
      expect(kinds({ lease: held, orchestrate: "ha", job: "start", local: { ...running, sick } })).toEqual([]);
      expect(kinds({ lease: held, orchestrate: "ha", intent: { frozen: true }, local: { ...running, sick } })).toEqual([]);
      expect(kinds({ lease: held, orchestrate: "ha", intent: { placement: "n2" }, local: { ...running, sick } })).toEqual(["stop"]);
      expect(kinds({ lease: held, orchestrate: "ha", local: { ...running, target: "activating", sick } })).toEqual([]);
      // A report from before the service went down here does not keep it from starting again (bench: failover back to a node whose last check had failed).
      expect(kinds({ lease: held, orchestrate: "ha", local: { ...down, sick: { ...sick, restartsLeft: 0 } } })).toEqual(["start"]);
    });

    it("restarts used up: monitor_action=switch holds this node down and places the service on the next usable node", () => {
      const used = { ...sick, restartsLeft: 0 };
      const actions = decide(sickHere({ local: { sick: used } }));
      expect(actions).toEqual([expect.objectContaining({ kind: "hold-down" }), expect.objectContaining({ kind: "set-placement", node: "n2", origin: "monitor" })]);
      expect((actions[1] as { reason: string }).reason).toContain("container#1 failed its check (unhealthy) and has no restart left on n1");
      // The next usable node skips the ones held down (n2 failed there before): no ping-pong.
      expect(decide(sickHere({ local: { sick: used }, heldDown: new Set(["n2"]) }))[1]).toEqual(expect.objectContaining({ node: "n3" }));
      // Held down everywhere else: this node holds itself down once, then the service stays here, reported.
      const alone = { local: { sick: used }, heldDown: new Set(["n2", "n3"]) };
      expect(kinds(alone as Change)).toEqual([]); // orchestrate=no in base: switch needs ha
      expect(decide(sickHere(alone))).toEqual([expect.objectContaining({ kind: "hold-down" })]);
      expect(decide(sickHere({ ...alone, heldDown: new Set(["n1", "n2", "n3"]) }))).toEqual([]);
      // switch needs orchestrate=ha (orchestration places the service).
      expect(kinds({ lease: held, orchestrate: "start", monitorAction: "switch", local: { ...running, sick: used } })).toEqual([]);
    });

    it("restarts used up: freezestop freezes and stops; reboot and crash reset the node; none only reports", () => {
      const used = { ...sick, restartsLeft: 0 };
      expect(decide(sickHere({ monitorAction: "freezestop", local: { sick: used } }))).toEqual([expect.objectContaining({ kind: "freeze-stop" })]);
      expect(decide(sickHere({ monitorAction: "reboot", local: { sick: used } }))).toEqual([expect.objectContaining({ kind: "reset-node", how: "reboot" })]);
      expect(decide(sickHere({ monitorAction: "crash", orchestrate: "no", local: { sick: used } }))).toEqual([expect.objectContaining({ kind: "reset-node", how: "crash" })]);
      expect(decide(sickHere({ monitorAction: "none", local: { sick: used } }))).toEqual([]);
      // A failed monitored unit (no check involved) takes the same monitor_action.
      expect(decide(obs({ lease: held, orchestrate: "ha", monitorAction: "freezestop", local: { ...running, monitorFailed: true } }))).toEqual([expect.objectContaining({ kind: "freeze-stop" })]);
      // Once frozen (the freezestop written), nothing more.
      expect(kinds({ lease: held, orchestrate: "ha", monitorAction: "freezestop", intent: { frozen: true }, local: { ...running, sick: used } })).toEqual([]);
    });
  });

  it("under orchestrate=ha a placement on a dead node gives way to failover; otherwise it waits", () => {
    const dead = { self: "n2", intent: { placement: "n1" }, liveNodes: new Set(["n2", "n3"]) };
    expect(decide(obs({ ...dead, orchestrate: "ha" }))).toEqual([expect.objectContaining({ kind: "acquire", failover: true })]);
    expect(kinds({ ...dead, orchestrate: "no" })).toEqual([]);
    expect(kinds({ ...dead, orchestrate: "ha", intent: { placement: "n1", frozen: true } })).toEqual([]);
  });

  it("an agent shutting down takes and starts nothing", () => {
    expect(kinds({ leaving: true, intent: { placement: "n1" } })).toEqual([]);
    expect(kinds({ leaving: true, intent: { placement: "n1" }, lease: held })).toEqual([]);
  });
});

describe("escalation", () => {
  it("none while the lease is valid and the deadline is not near", () => {
    expect(escalation(obs({ lease: held, local: running }))).toBeUndefined();
    expect(escalation(obs({ local: down }))).toBeUndefined();
  });

  it("renews failing: stop at deadline − margin, kill at the deadline, fence a kill window later", () => {
    expect(escalation(obs({ lease: held, local: running, now: 12_500 }))).toEqual({ reason: "the lease could not be renewed", stopAt: 12_000, killAt: 14_000, fenceAt: 16_000 });
    expect(escalation(obs({ lease: held, local: running, now: 14_500 }))?.reason).toBe("the lease ran out");
  });

  it("a lost lease (a newer ballot elsewhere): kill at once, no politeness", () => {
    expect(escalation(obs({ lease: { ...held, lost: true }, local: running, unleasedSince: 9_000 }))).toEqual({ reason: "another node took the lease over (a newer ballot)", stopAt: 9_000, killAt: 9_000, fenceAt: 11_000 });
  });

  it("running without any lease (a start by hand): stop now, kill and fence a window later each", () => {
    expect(escalation(obs({ local: running, unleasedSince: 9_000 }))).toEqual({ reason: "running without the lease", stopAt: 9_000, killAt: 11_000, fenceAt: 13_000 });
  });

  it("a start by hand that only reached the lease guard: the guard answers first (the stop waits half a kill window), kill and fence stay put", () => {
    expect(escalation(obs({ local: { ...running, guardPending: true }, unleasedSince: 9_000 }))).toEqual({ reason: "running without the lease", stopAt: 10_000, killAt: 11_000, fenceAt: 13_000 });
    // With a lease held, lost or failing, the guard changes nothing.
    expect(escalation(obs({ lease: { ...held, lost: true }, local: { ...running, guardPending: true }, unleasedSince: 9_000 }))?.stopAt).toBe(9_000);
  });

  it("a failed unit counts as up: its resource may still be held", () => {
    expect(escalation(obs({ local: { ...down, failed: true, provenDown: false }, unleasedSince: 9_000 }))).toBeDefined();
  });

  it("a fatal store problem (another host writes our records): kill at once", () => {
    expect(escalation(obs({ lease: held, local: running, storeFatal: "two hosts share the node name n1", unleasedSince: 9_500 }))).toMatchObject({ killAt: 9_500, fenceAt: 11_500 });
  });
});

describe("admit (operator requests)", () => {
  const view: AdmissionView = { service: "db1", nodes: ["n1", "n2"], liveNodes: new Set(["n1", "n2"]), heldDown: new Set(), frozen: false };
  it("a switch to a live node of the service is written as its placement", () => {
    expect(admit(view, { cmd: "switch", node: "n2" })).toEqual({ ok: true, placement: "n2" });
    expect(admit(view, { cmd: "stop" })).toEqual({ ok: true, placement: "" });
    expect(admit(view, { cmd: "start" })).toEqual({ ok: true, placement: "n1" });
  });
  it("refuses with a reason: unknown node, dead node, frozen service, a request already in progress here", () => {
    expect(admit(view, { cmd: "switch", node: "n9" })).toEqual({ ok: false, error: "n9 is not a node of db1 (n1, n2)" });
    expect(admit({ ...view, liveNodes: new Set(["n1"]) }, { cmd: "switch", node: "n2" })).toMatchObject({ ok: false, error: expect.stringContaining("n2 is down") });
    expect(admit({ ...view, frozen: true }, { cmd: "switch", node: "n2" })).toMatchObject({ ok: false, error: expect.stringContaining("frozen") });
    expect(admit({ ...view, busyWith: "switch to n1" }, { cmd: "switch", node: "n2" })).toMatchObject({ ok: false, error: expect.stringContaining("in progress") });
  });
});
