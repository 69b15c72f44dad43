// Container state as docker and podman report it. `container inspect` (not plain `inspect`,
// which also matches images and volumes of the same name) with the whole State as JSON: both
// engines spell Running, Pid, Status, ExitCode and Error the same way there.

import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";
import { CommandError } from "./runner.js";

export type Engine = "docker" | "podman";
export const engines: readonly Engine[] = ["docker", "podman"];

/** An engine, and for docker the daemon's socket when it is not the node's (a service's private dockerd). */
export interface EngineClient {
  engine: Engine;
  host?: string;
}

/** The engine's arguments that name the daemon: `-H <socket>`, or none. */
export function clientArgs(client: EngineClient): string[] {
  return client.host ? ["-H", client.host] : [];
}

export type ContainerState =
  | { exists: false }
  | { exists: true; running: boolean; pid: number; status: string; exitCode: number; error: string };

export interface ContainerStateJson {
  Running?: boolean;
  Pid?: number;
  Status?: string;
  ExitCode?: number;
  Error?: string;
}

/**
 * The container's state: from the engine's API socket where the CLI would talk to it
 * (engine-api.ts: one HTTP request instead of a CLI start), else `<engine> container inspect`.
 */
export async function inspectContainer(ctx: Pick<RuntimeContext, "runner" | "engineApi">, client: EngineClient, name: string, timeoutMs = 15_000): Promise<ContainerState> {
  return (await inspectContainerVia(ctx, client, name, timeoutMs)).state;
}

/** The container's state, and whether the engine's API socket answered (a cheap question to repeat) or the CLI did. */
async function inspectContainerVia(ctx: Pick<RuntimeContext, "runner" | "engineApi">, client: EngineClient, name: string, timeoutMs: number): Promise<{ state: ContainerState; via: "api" | "cli" }> {
  const { engine } = client;
  const viaApi = ctx.engineApi
    ? await ctx.engineApi.inspect(client, name, timeoutMs).catch((err: Error) => {
        throw new ActionError(`cannot inspect container ${name}: ${err.message}`);
      })
    : undefined;
  if (viaApi && "missing" in viaApi) return { state: { exists: false }, via: "api" };
  let state: ContainerStateJson;
  const via = viaApi && "state" in viaApi ? "api" : "cli";
  if (viaApi && "state" in viaApi) state = viaApi.state;
  else {
    const args = [...clientArgs(client), "container", "inspect", "-f", "{{json .State}}", name];
    const result = await ctx.runner.run(engine, args, { timeoutMs });
    if (result.exitCode !== 0 && /no such (container|object)/i.test(result.stderr)) return { state: { exists: false }, via };
    if (result.exitCode !== 0 || result.timedOut) throw new CommandError(engine, args, result, `cannot inspect container ${name}`);
    try {
      state = JSON.parse(result.stdout.trim()) as ContainerStateJson;
    } catch {
      throw new ActionError(`\`${engine} container inspect\` gave an unreadable state for ${name}: ${result.stdout.trim().slice(0, 200)}`);
    }
  }
  return {
    state: {
      exists: true,
      running: state.Running === true,
      pid: Number(state.Pid ?? 0),
      status: String(state.Status ?? "unknown"),
      exitCode: Number(state.ExitCode ?? 0),
      error: String(state.Error ?? ""),
    },
    via,
  };
}

export function describeState(state: ContainerState): string {
  if (!state.exists) return "no such container";
  const error = state.error ? `, error: ${state.error}` : "";
  return `status ${state.status}, exit code ${state.exitCode}${error}`;
}

/** The PID whose network namespace is the container's, or why there is none. */
export async function runningContainerPid(ctx: Pick<RuntimeContext, "runner" | "engineApi">, client: EngineClient, name: string): Promise<{ pid: number } | { gone: string }> {
  const state = await inspectContainer(ctx, client, name);
  if (!state.exists) return { gone: `container ${name} does not exist` };
  if (!state.running || state.pid <= 0) return { gone: `container ${name} is not running (${describeState(state)})` };
  return { pid: state.pid };
}

export interface ContainerWait extends EngineClient {
  name: string;
  timeoutMs: number;
  /** The unit's `run` command ($MAINPID): once it is gone, the container will not come up. */
  runPid?: number;
}

// Stopped states: the container will not come up by waiting. Anything else (created,
// configured, initialized, restarting, or not created yet by the `run` the unit started) may.
const finalStates = new Set(["exited", "dead", "stopped", "removing"]);

/** How often the engine's API socket is asked while waiting: one HTTP request (~1-2 ms, against ~20 ms for a CLI start). */
export const apiPollMs = 20;

/**
 * Waits until the container runs, so "the unit started" means "the container is running" for
 * whatever is ordered after it. Through the engine's API socket it asks every apiPollMs (a
 * request costs the engine about as much as a CLI start costs us in a millisecond); through
 * the CLI it polls fast at first (a container usually starts within a fraction of a second)
 * and backs off. Either way within timeoutMs. The lab measured the backoff's cost: the pause
 * container seen running up to ~100 ms after it ran (the 4th poll comes 237 ms in).
 */
export async function containerWait(ctx: RuntimeContext, { engine, host, name, timeoutMs, runPid }: ContainerWait): Promise<number> {
  const start = ctx.clock.now();
  const deadline = start + timeoutMs;
  let delay = 50;
  let seen = false;
  let last: ContainerState = { exists: false };
  for (;;) {
    const remaining = deadline - ctx.clock.now();
    const answer = await inspectContainerVia(ctx, { engine, host }, name, Math.min(Math.max(remaining, 1_000), 15_000));
    last = answer.state;
    if (last.exists) {
      seen = true;
      if (last.running && last.pid > 0) {
        ctx.log.info(`running (pid ${last.pid}) after ${Math.round(ctx.clock.now() - start)} ms`);
        return exitCodes.ok;
      }
      if (finalStates.has(last.status)) throw new ActionError(`exited instead of running: ${describeState(last)}`);
    } else if (seen) {
      throw new ActionError("the container went away before it was seen running (it exited and was removed: --rm?); its own output is in the unit's log");
    }
    if (runPid && (await ctx.host.netnsOf(runPid)) === undefined) {
      throw new ActionError(`\`${engine} run\` (pid ${runPid}) exited before the container ran (${describeState(last)}); its own output is in the unit's log`);
    }
    const left = deadline - ctx.clock.now();
    if (left <= 0) throw new ActionError(`not running after ${timeoutMs} ms: ${describeState(last)}`);
    if (answer.via === "api") await ctx.clock.sleep(Math.min(apiPollMs, left));
    else {
      await ctx.clock.sleep(Math.min(delay, left));
      delay = Math.min(Math.round(delay * 1.5), 500);
    }
  }
}
