// Docker's Engine API over its unix socket, for the one question the helper asks the engine
// many times per start: a container's state. `docker container inspect` starts the docker CLI
// (a Go program that reads its config and negotiates the API version) for every question; the
// same answer from the socket costs one HTTP request. Measured in the lab (test/lab/bench.ts,
// `docker_cli_inspect` vs `engine_api_inspect`), so the bench keeps that choice honest.
//
// The socket is used only where the CLI would use it: the daemon the unit names (-H, a
// service's private dockerd), else no DOCKER_HOST other than a unix socket, no DOCKER_CONTEXT,
// no current context in the CLI's config. Anything else (another context, a
// remote daemon, podman, a socket that is not there or refuses us) answers "not available", and
// the caller runs the CLI as before, with the CLI's own errors.

import type { ContainerStateJson, EngineClient } from "./container.js";

export type EngineAnswer = { state: ContainerStateJson } | { missing: true } | { unavailable: string };

export interface EngineApi {
  /** The container's State as `docker container inspect` prints it, or missing, or why the API cannot be asked. */
  inspect(client: EngineClient, name: string, timeoutMs: number): Promise<EngineAnswer>;
}

const maxBody = 4 * 1024 * 1024;

/** The socket the docker CLI would talk to, or why the helper must leave it to the CLI. */
export function dockerSocket(env: NodeJS.ProcessEnv, readConfig: (path: string) => string | undefined): string | { reason: string } {
  if (env.DOCKER_CONTEXT) return { reason: `DOCKER_CONTEXT=${env.DOCKER_CONTEXT}` };
  if (env.DOCKER_HOST) {
    if (!env.DOCKER_HOST.startsWith("unix://")) return { reason: `DOCKER_HOST=${env.DOCKER_HOST}` };
    return env.DOCKER_HOST.slice("unix://".length);
  }
  const configDir = env.DOCKER_CONFIG ?? (env.HOME ? `${env.HOME}/.docker` : undefined);
  const text = configDir ? readConfig(`${configDir}/config.json`) : undefined;
  if (text !== undefined) {
    let context: unknown;
    try {
      context = (JSON.parse(text) as { currentContext?: unknown }).currentContext;
    } catch {
      return { reason: `${configDir}/config.json is not JSON` };
    }
    if (context !== undefined && context !== "" && context !== "default") return { reason: `the docker CLI's current context is ${String(context)}` };
  }
  return "/var/run/docker.sock";
}

/** GET one path on a unix socket: status and body, bounded in time and size. */
async function getOverSocket(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", headers: { Host: "docker" }, signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) req.destroy(new Error(`answer larger than ${maxBody} bytes`));
        else chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export function realEngineApi(env: NodeJS.ProcessEnv = process.env): EngineApi {
  return {
    async inspect({ engine, host }, name, timeoutMs) {
      if (engine !== "docker") return { unavailable: `${engine} has no daemon socket the helper uses` };
      const { readFileSync } = await import("node:fs");
      // -H unix://PATH (checked by the helper's flags) names the daemon whatever the environment says.
      const socket = host?.startsWith("unix://")
        ? host.slice("unix://".length)
        : dockerSocket(env, (p) => {
            try {
              return readFileSync(p, "utf8");
            } catch {
              return undefined;
            }
          });
      if (typeof socket !== "string") return { unavailable: socket.reason };
      let answer: { status: number; body: string };
      try {
        answer = await getOverSocket(socket, `/containers/${encodeURIComponent(name)}/json`, timeoutMs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // No daemon there, or not ours to use: the CLI says why in its own words.
        if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES" || code === "ENOTSOCK") return { unavailable: `${socket}: ${code}` };
        if ((err as Error).name === "TimeoutError" || (err as Error).name === "AbortError") throw new Error(`the engine's API (${socket}) did not answer within ${timeoutMs} ms`);
        throw new Error(`the engine's API (${socket}): ${(err as Error).message}`);
      }
      if (answer.status === 404) return { missing: true };
      if (answer.status !== 200) throw new Error(`the engine's API (${socket}) answered ${answer.status}: ${answer.body.trim().slice(0, 300)}`);
      let parsed: { State?: ContainerStateJson };
      try {
        parsed = JSON.parse(answer.body) as { State?: ContainerStateJson };
      } catch {
        throw new Error(`the engine's API (${socket}) gave an unreadable answer: ${answer.body.trim().slice(0, 200)}`);
      }
      if (!parsed.State || typeof parsed.State !== "object") throw new Error(`the engine's API (${socket}) gave no State for ${name}`);
      return { state: parsed.State };
    },
  };
}
