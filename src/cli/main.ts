// svcc's command line. Each command loads only what it needs (the bundle is code-split), so
// `svcc compile` does not pay for the agent's D-Bus code or the runtime helper.

import { Command, CommanderError, Option } from "commander";

const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function withInputOptions(command: Command): Command {
  return command
    .option("--name <service>", "service name (default: the config file name without extension; required with -)")
    .option("--nodes <list>", "cluster nodes for {clusternodes}, comma separated (overrides the cluster file)")
    .option("--cluster <file>", "cluster facts: {clustername, nodes, container_engine} (default /etc/svcc/cluster.json when it exists)")
    .option("--env <key=value>", "override a key of the env section (repeatable)", collect, [])
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

function report(error: unknown): number {
  const err = error as Error & { exitCode?: number };
  if (err.name === "ConfigError" || err.name === "WriteError" || typeof err.exitCode === "number") {
    process.stderr.write(`svcc: ${err.message}\n`);
    return err.exitCode ?? exitCodes.failure;
  }
  process.stderr.write(`svcc: ${err.stack ?? err.message}\n`);
  return exitCodes.failure;
}

export function buildProgram(): Command {
  const program = new Command("svcc")
    .description("Relocatable failover services out of plain systemd: compile OpenSVC service configs into systemd units.")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();

  withInputOptions(
    program
      .command("compile")
      .description("Compile service configs into systemd units (a target, one unit per resource, a stop barrier).")
      .argument("<config...>", "config files (JSON or OpenSVC INI), directories of them, or - for stdin")
      .option("-o, --output <dir>", "write the units into this directory")
      .option("--root <dir>", "write into an OS image tree: <dir>/etc/systemd/system")
      .option("--dryrun", "print every file as ---<path>--- then its text; write nothing")
      .option("--svcc-bin <path>", "absolute path of svcc that the units call for runtime steps", "/usr/local/bin/svcc")
      .option("--unit-dir <dir>", "where the units live on the nodes (for per-node env files; default /etc/systemd/system)")
      .option("--force", "overwrite files that svcc did not write"),
  ).action(async (configs: string[], options) => {
    const outputs = [options.output, options.root, options.dryrun].filter(Boolean).length;
    if (outputs !== 1) throw new CommanderError(exitCodes.usage, "svcc.usage", "compile needs exactly one of -o <dir>, --root <dir> or --dryrun");
    const { compileService } = await import("../compiler/compile.js");
    const { ConfigError } = await import("../compiler/errors.js");
    const { inputs, cluster, envOverrides } = await loadInputs(configs, options);
    const outDir: string | undefined = options.root ? `${options.root.replace(/\/+$/, "")}/etc/systemd/system` : options.output;
    const writer = outDir ? await import("../compiler/write.js") : undefined;
    let failures = 0;
    const out: string[] = [];
    for (const input of inputs) {
      try {
        const result = compileService({ ...input, format: options.inputFormat, cluster, envOverrides, svccBin: options.svccBin, unitDir: options.unitDir });
        if (options.dryrun) {
          for (const f of result.files) out.push(`---${f.path}---\n${f.content}`);
        } else {
          const written = writer!.writeServiceFiles(outDir!, input.serviceName, result.files, { force: options.force });
          process.stderr.write(`svcc: ${input.serviceName}: ${written.written.length} written, ${written.unchanged.length} unchanged, ${written.removed.length} removed in ${outDir}\n`);
        }
      } catch (err) {
        failures = Math.max(failures, err instanceof ConfigError ? exitCodes.usage : exitCodes.failure);
        report(err);
      }
    }
    if (out.length) process.stdout.write(out.join(""));
    process.exitCode = failures;
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
        const result = compileService({ ...input, format: options.inputFormat, cluster, envOverrides });
        process.stdout.write(`${input.file}: ok (${input.serviceName}: ${result.units.length} units)\n`);
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
    const result = compileService({ ...inputs[0], format: options.inputFormat, cluster, envOverrides });
    process.stdout.write(options.format === "dot" ? planDot(result) : planText(result));
  });

  program
    .command("res")
    .description("Runtime steps the generated units call (vg tags, addresses, netns plumbing, mount release, container wait). Run `svcc res --help-actions` for the list.")
    .argument("<action>", "the step")
    .argument("[args...]", "its flags")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (action: string, args: string[]) => {
      const { runResAction } = await import("../runtime/index.js");
      process.exitCode = await runResAction([action, ...args]);
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
