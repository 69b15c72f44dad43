// svcc's command line. Each command loads only what it needs (the bundle is code-split), so
// `svcc compile` does not pay for the agent's D-Bus code or the runtime helper.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Argument, Command, CommanderError, Option } from "commander";
import { visible } from "../compiler/input-text.js";
import { type Shell, shells } from "./completion.js";
import { journalFormats, type LogOptions } from "./logs.js";

const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;
/** package.json's version, put in by the build (scripts/build.ts); "dev" when run from source. */
declare const SVCC_VERSION: string | undefined;
const svccVersion = typeof SVCC_VERSION === "string" ? SVCC_VERSION : "dev";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function withInputOptions(command: Command): Command {
  return command
    .option("--name <service>", "service name (default: the config file name without extension; required with -)")
    .option("--nodes <list>", "cluster nodes for {clusternodes}, comma separated (overrides the cluster file)")
    .option("--cluster <file>", "cluster facts: {clustername, nodes, container_engine} (default /etc/svcc/cluster.json when it exists)")
    .option("--env <key=value>", "override a key of the env section (repeatable)", collect, [])
    .option("--strict", "make every warning an error (keywords with no meaning under systemd, values for other nodes)")
    .addOption(new Option("--input-format <format>", "config format (default: from the file name or content)").choices(["json", "ini"]));
}

async function loadInputs(configs: string[], options: Record<string, unknown>) {
  const { readConfigs, readClusterFacts, parseEnvOverrides } = await import("./inputs.js");
  return {
    inputs: readConfigs(configs, options),
    cluster: readClusterFacts(options),
    envOverrides: parseEnvOverrides(options.env as string[]),
  };
}

/** Each warning on stderr, then the keywords this config had downgraded to warnings. */
async function reportWarnings(serviceName: string, file: string, warnings: ReadonlyArray<{ section?: string; key?: string; reason: string }>): Promise<void> {
  if (warnings.length === 0) return;
  const { formatWarning } = await import("../compiler/warnings.js");
  const keys = [...new Set(warnings.map((w) => w.key).filter(Boolean))];
  process.stderr.write(warnings.map((w) => `svcc: warning: ${formatWarning(file, w)}\n`).join(""));
  process.stderr.write(`svcc: ${serviceName}: ${keys.length} keyword(s) downgraded to warnings: ${keys.join(", ")} (--strict makes them errors)\n`);
}

function report(error: unknown): number {
  const err = error as Error & { exitCode?: number };
  if (err.name === "ConfigError" || err.name === "WriteError" || typeof err.exitCode === "number") {
    // A ConfigError's lines are already made visible (errors.ts); a path in a WriteError may not be.
    process.stderr.write(`svcc: ${err.name === "ConfigError" ? err.message : visible(err.message)}\n`);
    return err.exitCode ?? exitCodes.failure;
  }
  process.stderr.write(`svcc: ${err.stack ?? err.message}\n`);
  return exitCodes.failure;
}

/**
 * The generator's config of a service, when compile writes that service's units into
 * /etc/systemd/system (inside --root), which shadows what the generator makes of it.
 */
function generatorConfigOf(root: string | undefined, output: string | undefined, service: string): string | undefined {
  const base = root ?? "/";
  if (!root && (!output || resolve(output) !== "/etc/systemd/system")) return undefined;
  return ["json", "conf", "ini"].map((ext) => join(base, "etc/svcc/services", `${service}.${ext}`)).find((f) => existsSync(f));
}

export function buildProgram(): Command {
  const program = new Command("svcc")
    .description("Relocatable failover services out of plain systemd: compile OpenSVC service configs into systemd units (topology=flex services that run on every node too, outside the lease).")
    .version(svccVersion)
    .showHelpAfterError()
    .exitOverride();

  withInputOptions(
    program
      .command("compile")
      .description("Compile service configs into systemd units (a target, one unit per resource, a stop barrier; a failover service's chain starts with its lease guard, a topology=flex one has none and runs on every node).")
      .argument("<config...>", "config files (JSON or OpenSVC INI), directories of them, or - for stdin")
      .option("-o, --output <dir>", "write the units into this directory")
      .option("--root <dir>", "write into an OS image tree: <dir>/etc/systemd/system")
      .option("--agent-config <file>", "with --root: also put this agent config (without node) at <dir>/etc/svcc/agent.json, and svcc-agent.service, enabled")
      .option("--dryrun", "print every file as ---<path>--- then its text; write nothing")
      .option("--svcc-bin <path>", "absolute path of svcc that the units call for runtime steps (default: this svcc when run from PATH; with --root, the svcc installed in the image, /usr/bin/svcc if none)")
      .option("--unit-dir <dir>", "where the units live on the nodes (for per-node env files; default /etc/systemd/system)")
      .option("--force", "overwrite files that svcc did not write"),
  ).action(async (configs: string[], options) => {
    const outputs = [options.output, options.root, options.dryrun].filter(Boolean).length;
    if (outputs !== 1) throw new CommanderError(exitCodes.usage, "svcc.usage", "compile needs exactly one of -o <dir>, --root <dir> or --dryrun");
    if (options.agentConfig && !options.root) throw new CommanderError(exitCodes.usage, "svcc.usage", "--agent-config goes with --root (an image tree)");
    const { compileService } = await import("../compiler/compile.js");
    const { ConfigError } = await import("../compiler/errors.js");
    const { chooseSvccBin } = await import("./svcc-bin.js");
    const { inputs, cluster, envOverrides } = await loadInputs(configs, options);
    const image = options.agentConfig ? await import("./image.js") : undefined;
    const agentConfig = image?.readImageAgentConfig(options.agentConfig);
    const root: string | undefined = options.root;
    const svccBin = chooseSvccBin({ explicit: options.svccBin, invokedAs: process.argv[1], pathEnv: process.env.PATH, root });
    // Every config is compiled before anything is written: exit 2 means nothing was written.
    const results: Array<{ serviceName: string; files: import("../compiler/compile.js").CompiledFile[]; bootUnits: string[] }> = [];
    let invalid = false;
    for (const input of inputs) {
      try {
        const result = compileService({ ...input, format: options.inputFormat, cluster, envOverrides, svccBin: svccBin.path, unitDir: options.unitDir, strict: options.strict });
        await reportWarnings(input.serviceName, input.file, result.warnings);
        results.push({ serviceName: input.serviceName, files: result.files, bootUnits: result.bootUnits });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        invalid = true;
        report(err);
      }
    }
    if (invalid) {
      process.stderr.write("svcc: nothing written\n");
      process.exitCode = exitCodes.usage;
      return;
    }
    // Said after the output, where it is seen, and only when there is output.
    const warnAboutSvccBin = () => svccBin.warning && process.stderr.write(`svcc: warning: ${svccBin.warning}\n`);
    if (options.dryrun) {
      // One write per service: no single string of every service's files (megabytes for a
      // thousand services, copied as it grows).
      for (const r of results) process.stdout.write(r.files.map((f) => `---${f.path}---\n${f.content}`).join(""));
      warnAboutSvccBin();
      return;
    }
    const writer = await import("../compiler/write.js");
    const { openOutputDirectory, openInsideRoot } = await import("../compiler/output-dir.js");
    const out = root ? openInsideRoot(root, "etc/systemd/system") : openOutputDirectory(options.output);
    // One summary line per run: per service with one service, a total with several (a thousand
    // services would otherwise print a thousand lines). What needs attention stays per service.
    const total = { services: 0, written: 0, unchanged: 0, removed: 0 };
    try {
      // Written together: one flush to disk per batch of services, not one per file (write.ts).
      const outcomes = writer.writeServicesFiles(out, results, { force: options.force });
      for (const [i, { serviceName, bootUnits }] of results.entries()) {
        try {
          const written = outcomes[i];
          if (written instanceof Error) throw written;
          for (const k of written.kept) process.stderr.write(`svcc: ${serviceName}: left ${out.shown}/${k.path} in place: ${k.reason}\n`);
          total.services++;
          total.written += written.written.length;
          total.unchanged += written.unchanged.length;
          total.removed += written.removed.length;
          if (results.length === 1) process.stderr.write(`svcc: ${serviceName}: ${written.written.length} written, ${written.unchanged.length} unchanged, ${written.removed.length} removed in ${out.shown}\n`);
          // The units meant to start at boot on every node: standby=true resources, flex services.
          for (const unit of bootUnits) process.stderr.write(`svcc: ${serviceName}: run \`systemctl enable ${unit}\` on every node${root ? " (or in the image)" : ""}: ${unit.endsWith("-standby.target") ? "its standby resources run" : "a flex service runs"} on every node from boot\n`);
          const alsoForGenerator = generatorConfigOf(root, options.output, serviceName);
          if (alsoForGenerator) process.stderr.write(`svcc: warning: ${alsoForGenerator} is also there for the generator; the units in ${out.shown} win over what it generates: keep ${serviceName} in one place\n`);
        } catch (err) {
          process.exitCode = exitCodes.failure;
          report(err);
        }
      }
    } finally {
      out.close();
    }
    if (results.length > 1) process.stderr.write(`svcc: ${total.services} of ${results.length} services: ${total.written} written, ${total.unchanged} unchanged, ${total.removed} removed in ${out.shown}\n`);
    warnAboutSvccBin();
    if (image && process.exitCode !== exitCodes.failure) {
      try {
        const agent = await image.installAgentIntoImage(root!, agentConfig!, svccBin.path);
        process.stderr.write(`svcc: agent: ${agent.written.length} written, ${agent.unchanged.length} unchanged in ${root}\n`);
      } catch (err) {
        process.exitCode = report(err);
      }
    }
  });

  withInputOptions(
    program
      .command("validate")
      .description("Check service configs without writing anything: exit 0, or 2 with every problem found.")
      .argument("<config...>", "config files, directories of them, or - for stdin"),
  ).action(async (configs: string[], options) => {
    const { compileService } = await import("../compiler/compile.js");
    const { inputs, cluster, envOverrides } = await loadInputs(configs, options);
    let failures = 0;
    for (const input of inputs) {
      try {
        const result = compileService({ ...input, format: options.inputFormat, cluster, envOverrides, strict: options.strict });
        await reportWarnings(input.serviceName, input.file, result.warnings);
        process.stdout.write(`${input.file}: ok (${input.serviceName}: ${result.units.length} units${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ""})\n`);
      } catch (err) {
        failures = Math.max(failures, report(err));
      }
    }
    process.exitCode = failures;
  });

  withInputOptions(
    program
      .command("plan")
      .description("Show the start order and stop order of a service's units.")
      .argument("<config>", "config file, or - for stdin")
      .addOption(new Option("--format <format>", "text or dot (graphviz)").choices(["text", "dot"]).default("text")),
  ).action(async (config: string, options) => {
    const { compileService } = await import("../compiler/compile.js");
    const { planText, planDot } = await import("./plan-format.js");
    const { inputs, cluster, envOverrides } = await loadInputs([config], options);
    const result = compileService({ ...inputs[0], format: options.inputFormat, cluster, envOverrides, strict: options.strict });
    await reportWarnings(inputs[0].serviceName, inputs[0].file, result.warnings);
    process.stdout.write(options.format === "dot" ? planDot(result) : planText(result));
  });

  program
    .command("res")
    .description("Runtime steps the generated units call (vg tags, addresses, netns plumbing, mount release, container wait, cfg/sec values from the store). Run `svcc res --help-actions` for the list.")
    .argument("<action>", "the step")
    .argument("[args...]", "its flags")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (action: string, args: string[]) => {
      const { runResAction } = await import("../runtime/index.js");
      process.exitCode = await runResAction([action, ...args]);
    });

  const socketOption = () => new Option("--socket <path>", "the agent's control socket").default("/run/svcc/agent.sock");
  /** A request whose answer is only ok or an error: freeze, thaw, declare-dead, clear-hold-down. */
  const controlAction = (build: (...args: never[]) => object, said: (...args: never[]) => string) => async (...args: unknown[]) => {
    const options = args.at(-2) as { socket: string };
    const { requireRoot, controlCommand } = await import("./agent-commands.js");
    requireRoot();
    const result = await controlCommand(options.socket, (build as (...a: unknown[]) => object)(...args) as never);
    if (!result.ok) {
      process.stderr.write(`svcc: ${result.error}\n`);
      process.exitCode = exitCodes.failure;
      return;
    }
    process.stdout.write(`${(said as (...a: unknown[]) => string)(...args)}\n`);
  };
  /** switch, start, stop: followed to the end with progress (docs/cli.md). */
  const requestAction = (build: (...args: never[]) => object) => async (...args: unknown[]) => {
    const options = args.at(-2) as { socket: string; json?: boolean; quiet?: boolean };
    const { requireRoot, followRequest } = await import("./agent-commands.js");
    requireRoot();
    process.exitCode = await followRequest(options.socket, (build as (...a: unknown[]) => object)(...args) as never, options);
  };
  const withProgressOptions = (command: Command) =>
    command
      .addOption(socketOption())
      .option("--json", "each event as a JSON line, then a {\"event\":\"done\"} line with the total and phases")
      .option("-q, --quiet", "only the final line (or the error)");

  program
    .command("deploy")
    .description("Publish a service config to every node, as `om SVC deploy --config=-`: compiled here first (a bad config: exit 2, nothing published), published through this node's agent with a version (counter and content hash), then followed until every live node's agent has installed it in /etc/svcc/services and reloaded systemd (its generator makes the units). A node that is down installs it when it comes back, before it may start the service. The published config is readable by root on every node: keep secrets in svcc's sec store.")
    .argument("<config>", "config file (JSON or OpenSVC INI), or - for stdin (with --name)")
    .option("--name <service>", "service name (default: the config file name without extension; required with -)")
    .option("--cluster <file>", "cluster facts for the local compile (default /etc/svcc/cluster.json when it exists)")
    .option("--strict", "make every warning an error")
    .option("--base <version>", "publish only if the cluster's newest version is still this one (its counter; 0: none yet), as a compare-and-set; default: the newest this node's agent knows", (v) => Number(v))
    .option("--timeout <seconds>", "how long to wait for every live node to install it", (v) => Number(v), 60)
    .option("-q, --quiet", "only the final line (or the error)")
    .addOption(socketOption())
    .action(async (config: string, options: { name?: string; cluster?: string; strict?: boolean; base?: number; timeout: number; quiet?: boolean; socket: string }) => {
      const { compileService } = await import("../compiler/compile.js");
      const { ConfigError } = await import("../compiler/errors.js");
      const { requireRoot } = await import("./agent-commands.js");
      const { publishAndFollow } = await import("./deploy.js");
      if (options.base !== undefined && !(Number.isSafeInteger(options.base) && options.base >= 0)) throw new CommanderError(exitCodes.usage, "svcc.usage", "--base expects a version counter (0 or more)");
      if (!Number.isFinite(options.timeout) || options.timeout <= 0) throw new CommanderError(exitCodes.usage, "svcc.usage", "--timeout expects a positive number of seconds");
      const { inputs, cluster } = await loadInputs([config], { ...options, env: [] });
      if (inputs.length !== 1) throw new CommanderError(exitCodes.usage, "svcc.usage", `deploy takes one config file, not a directory (${config} holds ${inputs.length})`);
      const input = inputs[0];
      try {
        const result = compileService({ ...input, cluster, strict: options.strict });
        await reportWarnings(input.serviceName, input.file, result.warnings);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        report(err);
        process.stderr.write("svcc: nothing published\n");
        process.exitCode = exitCodes.usage;
        return;
      }
      requireRoot();
      const { systemClock } = await import("../fence/clock.js");
      process.exitCode = await publishAndFollow(input.serviceName, input.text, { socket: options.socket, timeoutMs: options.timeout * 1000, quiet: options.quiet }, {
        out: (l) => process.stdout.write(`${l}\n`),
        err: (l) => process.stderr.write(`${l}\n`),
        now: () => systemClock.now(),
        sleep: (ms) => systemClock.sleep(ms),
      }, options.base);
    });

  /** set, unset, edit config: the changed config is compiled here, then published on the version it came from. */
  const publishChanged = async (service: string, text: string, base: number, source: string, options: { socket: string; timeout: number; quiet?: boolean; cluster?: string; strict?: boolean }) => {
    const { compileService } = await import("../compiler/compile.js");
    const { ConfigError } = await import("../compiler/errors.js");
    const { publishAndFollow, sayWhatTakesEffect } = await import("./deploy.js");
    const { readClusterFacts } = await import("./inputs.js");
    try {
      const result = compileService({ text, file: source, serviceName: service, cluster: readClusterFacts({ cluster: options.cluster }), strict: options.strict });
      await reportWarnings(service, source, result.warnings);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      report(err);
      process.stderr.write("svcc: nothing published\n");
      return exitCodes.usage;
    }
    const { systemClock } = await import("../fence/clock.js");
    const io = { out: (l: string) => process.stdout.write(`${l}\n`), err: (l: string) => process.stderr.write(`${l}\n`), now: () => systemClock.now(), sleep: (ms: number) => systemClock.sleep(ms) };
    const code = await publishAndFollow(service, text, { socket: options.socket, timeoutMs: options.timeout * 1000, quiet: options.quiet }, io, base);
    if (code === 0 && !options.quiet) await sayWhatTakesEffect(options.socket, service, io);
    return code;
  };
  const withPublishOptions = (command: Command) =>
    command
      .option("--cluster <file>", "cluster facts for the local compile (default /etc/svcc/cluster.json when it exists)")
      .option("--strict", "make every warning an error")
      .option("--timeout <seconds>", "how long to wait for every live node to install it", (v) => Number(v), 60)
      .option("-q, --quiet", "only the final line (or the error)")
      .addOption(socketOption());

  for (const cmd of ["set", "unset"] as const) {
    withPublishOptions(
      program
        .command(cmd)
        .description(cmd === "set"
          ? "Change keywords of a published service config (as `om SVC set --kw`): the changed config is compiled here (a bad one: exit 2, nothing published), then published on the version it came from and followed as deploy. Says what takes effect now and what at the next start."
          : "Remove keywords from a published service config (as `om SVC unset --kw`), validated and published as set does.")
        .argument("<service>")
        .requiredOption("--kw <keyword>", cmd === "set" ? "section.key=value, e.g. container#1.image=postgres:16 (repeatable)" : "section.key, e.g. container#1.start_timeout (repeatable)", collect, []),
    ).action(async (service: string, options: { kw: string[]; socket: string; timeout: number; quiet?: boolean; cluster?: string; strict?: boolean }) => {
      const { requireRoot } = await import("./agent-commands.js");
      const { applyKeywords, fetchPublished, parseKeyword } = await import("./deploy.js");
      const changes = options.kw.map((k) => parseKeyword(k, cmd === "set"));
      requireRoot();
      const published = await fetchPublished(options.socket, service);
      const text = applyKeywords(published.text, changes);
      if (text === published.text) {
        process.stdout.write(`${service}: no change to v${published.version.n}: nothing published\n`);
        return;
      }
      process.exitCode = await publishChanged(service, text, published.version.n, `${service} (v${published.version.n} with ${options.kw.join(", ")})`, options);
    });
  }

  program
    .command("print")
    .description("Print published things: print config SERVICE.")
    .command("config")
    .description("Print a service's published config (the text svcc deploy published, as every node installs it).")
    .argument("<service>")
    .addOption(socketOption())
    .action(async (service: string, options: { socket: string }) => {
      const { requireRoot } = await import("./agent-commands.js");
      const { fetchPublished } = await import("./deploy.js");
      requireRoot();
      const published = await fetchPublished(options.socket, service);
      process.stdout.write(published.text);
    });

  withPublishOptions(
    program
      .command("edit")
      .description("Edit published things: edit config SERVICE.")
      .command("config")
      .description("Edit a service's published config with $EDITOR (as `om SVC edit config`): validated here (a bad edit: exit 2, nothing published, the edit kept for svcc deploy --base), then published on the version it came from and followed as deploy.")
      .argument("<service>"),
  ).action(async (service: string, options: { socket: string; timeout: number; quiet?: boolean; cluster?: string; strict?: boolean }) => {
    const { requireRoot } = await import("./agent-commands.js");
    const { fetchPublished } = await import("./deploy.js");
    const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { spawnSync } = await import("node:child_process");
    requireRoot();
    const published = await fetchPublished(options.socket, service);
    const dir = mkdtempSync(join(tmpdir(), "svcc-edit-"));
    const file = join(dir, `${service}.${published.text.trimStart().startsWith("{") ? "json" : "conf"}`);
    writeFileSync(file, published.text, { mode: 0o600 });
    const editor = process.env.VISUAL || process.env.EDITOR || "vi";
    const ran = spawnSync("sh", ["-c", `${editor} "$1"`, "svcc-edit", file], { stdio: "inherit" });
    if (ran.status !== 0) {
      process.stderr.write(`svcc: ${editor} exited with ${ran.status ?? ran.signal}: nothing published (your edit is in ${file})\n`);
      process.exitCode = exitCodes.failure;
      return;
    }
    const text = readFileSync(file, "utf8");
    if (text === published.text) {
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write(`${service}: no change to v${published.version.n}: nothing published\n`);
      return;
    }
    process.exitCode = await publishChanged(service, text, published.version.n, file, options);
    if (process.exitCode === exitCodes.usage) process.stderr.write(`svcc: your edit is kept in ${file}: fix it, then svcc deploy ${file} --base ${published.version.n}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  program
    .command("delete")
    .description("Delete a service from every node: refused while it runs anywhere; otherwise its config is removed from the store (a deletion is a version) and every node removes its config and units (systemd reloads).")
    .argument("<service>")
    .option("--timeout <seconds>", "how long to wait for every live node to remove it", (v) => Number(v), 60)
    .option("-q, --quiet", "only the final line (or the error)")
    .addOption(socketOption())
    .action(async (service: string, options: { socket: string; timeout: number; quiet?: boolean }) => {
      const { requireRoot } = await import("./agent-commands.js");
      const { publishAndFollow } = await import("./deploy.js");
      const { systemClock } = await import("../fence/clock.js");
      requireRoot();
      process.exitCode = await publishAndFollow(service, null, { socket: options.socket, timeoutMs: options.timeout * 1000, quiet: options.quiet }, { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), now: () => systemClock.now(), sleep: (ms) => systemClock.sleep(ms) });
    });

  program
    .command("agent")
    .description("Run the lease and fencing agent of this node (normally as svcc-agent.service).")
    .option("--config <file>", "agent config", "/etc/svcc/agent.json")
    .option("--print-unit", "print svcc-agent.service for this svcc and config, and exit")
    .option("--print-dbus-policy", "print the system bus policy that lets the agent answer its services' health checks (only root may call it), and exit; svcc's packages install it, by hand: > /etc/dbus-1/system.d/org.svcc.Agent1.conf")
    .action(async (options) => {
      const { runAgent, agentUnit } = await import("./agent-commands.js");
      if (options.printDbusPolicy) {
        const { dbusPolicy } = await import("../fence/check-bus.js");
        process.stdout.write(dbusPolicy());
        return;
      }
      if (options.printUnit) {
        process.stdout.write(agentUnit(process.argv[1] ?? "/usr/local/bin/svcc", options.config));
        return;
      }
      // Exit as soon as the agent is done: a timer or socket left behind must not hold the
      // process (a restart's next agent has only the lease deadline to come up in).
      process.exit(await runAgent(options.config));
    });

  withProgressOptions(
    program
      .command("switch")
      .description("Move a service to a node: stop on the source, hand the lease over, start on the destination. Shows each resource as it stops and starts, with its duration, and where the time went.")
      .argument("<service>")
      .argument("<node>"),
  ).action(requestAction((service: string, node: string) => ({ cmd: "switch", service, node })));

  program
    .command("status")
    .description("One line per service and node: state, lease and token, since when (>: at least that long), last action; after an empty line, each service's problems and this node's last health checks. -v for each node's units.")
    .argument("[service]")
    .addOption(socketOption())
    .option("-v, --verbose", "each node's units as a tree, under the service's orchestrate, placement and highest token")
    .option("--json", "as JSON")
    .option("-w, --watch", "follow: on a terminal redraw every second; elsewhere print again when something changes (with --json: a JSON line per change)")
    .action(async (service: string | undefined, options: { socket: string; json?: boolean; verbose?: boolean; watch?: boolean }) => {
      const { requireRoot, showStatus, watchStatus } = await import("./agent-commands.js");
      requireRoot();
      process.exitCode = options.watch ? await watchStatus(options.socket, service, options) : await showStatus(options.socket, service, options);
    });

  withProgressOptions(
    program
      .command("start")
      .description("Start a service on its placement node (the first live node in its nodes order, or --node), with progress as for switch.")
      .argument("<service>")
      .option("--node <node>", "start it on this node"),
  ).action(requestAction((service: string, options: { node?: string }) => ({ cmd: "start", service, node: options.node })));

  withProgressOptions(
    program
      .command("stop")
      .description("Stop a service everywhere and release its lease, with progress as for switch.")
      .argument("<service>"),
  ).action(requestAction((service: string) => ({ cmd: "stop", service })));

  for (const cmd of ["freeze", "thaw"] as const) {
    program
      .command(cmd)
      .description(cmd === "freeze" ? "Turn orchestration off for a service (no automatic start or failover)." : "Turn orchestration back on for a service.")
      .argument("<service>")
      .addOption(socketOption())
      .action(controlAction((service: string) => ({ cmd, service }), (service: string) => `${service} ${cmd === "freeze" ? "frozen: no automatic start or failover" : "thawed: orchestrated again"}`));
  }

  program
    .command("logs")
    .description("The service's journal: its units' lines and the agent's decisions, interleaved in time order, as journalctl shows them (on this node).")
    .argument("<service>")
    .option("--unit-dir <dir>", "where the service's units are installed (default: /etc/systemd/system, then /run/systemd/generator)")
    .option("-n, --lines <n>", "the last n lines (or \"all\"); default: all, or 10 with -f (as journalctl)")
    .option("-S, --since <time>", "from this time on, as journalctl reads it (\"2026-12-01 07:00\", \"-1h\", \"today\")")
    .option("-U, --until <time>", "up to this time, as journalctl reads it")
    .option("-f, --follow", "keep following (with -n: the last n lines first)")
    .addOption(new Option("-o, --output <format>", "journalctl's output format").choices(journalFormats).default("short-iso-precise"))
    .action(async (service: string, options: LogOptions & { unitDir?: string }) => {
      const { showLogs } = await import("./agent-commands.js");
      process.exitCode = await showLogs(service, options.unitDir ? [options.unitDir] : ["/etc/systemd/system", "/run/systemd/generator"], options);
    });

  program
    .command("completion")
    .description("Print the shell completion script (commands, options, service and node names). bash: svcc completion bash > /etc/bash_completion.d/svcc; zsh: svcc completion zsh > \"${fpath[1]}/_svcc\".")
    .addArgument(new Argument("<shell>").choices(shells))
    .action(async (shell: Shell) => {
      const { completionScript } = await import("./completion.js");
      process.stdout.write(completionScript(shell, program));
    });

  // What the completion scripts call for names: one a line, nothing (and exit 0) when none are known.
  program
    .command("__complete", { hidden: true })
    .argument("<kind>")
    .option("--config <file>", "the agent config", "/etc/svcc/agent.json")
    .action(async (kind: string, options: { config: string }) => {
      const { completionNames } = await import("./completion.js");
      if (kind !== "services" && kind !== "nodes") return;
      const names = completionNames(kind, { agentConfig: options.config, unitDirs: ["/etc/systemd/system", "/run/systemd/generator"] });
      process.stdout.write(names.map((n) => `${n}\n`).join(""));
    });

  program
    .command("declare-dead")
    .description("Tell the cluster a node is powered off (check it first!): its leases are taken over without waiting. Refused while its heartbeat changes.")
    .argument("<node>")
    .addOption(socketOption())
    .action(controlAction((node: string) => ({ cmd: "declare-dead", node }), (node: string) => `${node} declared dead: its leases may be taken over now`));

  program
    .command("clear-hold-down")
    .description("Let orchestration use a node again after a failure held it down for a service.")
    .argument("<service>")
    .argument("<node>")
    .addOption(socketOption())
    .action(controlAction((service: string, node: string) => ({ cmd: "clear-hold-down", service, node }), (service: string, node: string) => `${node} may run ${service} again`));

  const lease = program.command("lease").description("The shared lease device: initialise it, add services, inspect it.");
  lease
    .command("init")
    .description("Initialise the lease device named in the agent config with its nodes, services and timings (run once, on one node). On an initialised device with the same nodes and timings it only adds new services; anything else needs --force, which waits until no agent uses the device and keeps tokens growing.")
    .option("--config <file>", "agent config", "/etc/svcc/agent.json")
    .option("--force", "re-initialise a device with other nodes or timings (only once every agent on it is stopped)")
    .option("--max-hosts <n>", "host slots (default 8)", (v) => Number(v))
    .option("--max-services <n>", "service areas (default 64)", (v) => Number(v))
    .option("--token-floor <service=token>", "start a service's tokens above this (after replacing a lost device: the highest token it reached, e.g. from the VG's svcc_token_N tag); repeatable", collect, [])
    .action(async (options: { config: string; force?: boolean; maxHosts?: number; maxServices?: number; tokenFloor: string[] }) => {
      const { leaseInit } = await import("./agent-commands.js");
      const floor: Record<string, number> = {};
      for (const kv of options.tokenFloor) {
        const m = /^([^=]+)=(\d+)$/.exec(kv);
        if (!m) throw new CommanderError(exitCodes.usage, "svcc.usage", `--token-floor expects service=token, got "${kv}"`);
        floor[m[1]] = Number(m[2]);
      }
      process.exitCode = await leaseInit(options.config, { force: options.force, maxHosts: options.maxHosts, maxServices: options.maxServices, tokenFloor: floor });
    });
  lease
    .command("show")
    .description("Print the lease device: header, each host's heartbeat record, each service's ballot blocks.")
    .option("--config <file>", "agent config", "/etc/svcc/agent.json")
    .option("--json", "as JSON")
    .action(async (options: { config: string; json?: boolean }) => {
      const { leaseShow } = await import("./agent-commands.js");
      process.exitCode = await leaseShow(options.config, Boolean(options.json));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return exitCodes.ok;
      if (err.code === "svcc.usage") process.stderr.write(`svcc: ${err.message}\n`);
      return exitCodes.usage;
    }
    return report(err);
  }
}

void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
