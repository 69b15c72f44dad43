// app type=simple|forking (forking when absent, as OpenSVC): commands run as OpenSVC runs
// them. simple: the start command stays in the foreground (Type=exec). forking: the start
// command runs to completion and may leave daemons behind (a oneshot that stays active: the
// unit's processes live on in its cgroup, and stop kills whatever the stop command leaves).
//
// start, stop and check take OpenSVC's values: a command; `true` (or a sequence number, which
// also orders the apps) runs `<script> <action>`; `false` or nothing does nothing.

import { ConversionError } from "../convert.js";
import { ignored, inert, type KeywordStatus, kw, refused, type ValuesOf, whenOff } from "../keyword.js";
import { environmentAssignment, unquotedValue, userValue } from "../unit.js";
import { type ServiceSteps, serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { actionCommand } from "./command.js";
import { parseRetcodes } from "../../runtime/retcodes.js";
import { hasPlaceholder } from "../model.js";
import { storeEnvironment, storeEnvironmentKeywords, storeItemRules } from "./store-env.js";
import { defineDriver, resourceUnitName } from "./types.js";

const limit = (what: string, directive: string) => kw.size(`Limit on ${what} (${directive}=).`);

const appKeywords = {
  script: kw.string("The launcher script, run as `<script> start|stop|status` where start, stop or check is `true` or a sequence number."),
  start: kw.shell("Start command; `true` or a sequence number runs `<script> start` (a number also orders the apps); `false`: nothing."),
  stop: kw.shell("Stop command (simple apps: default is stopping the main process); `true`: `<script> stop`; `false`: nothing."),
  check: kw.shell("Health check command, run by the service's check unit every monitor_schedule, as the app's user; `true`: `<script> status`. Its exit code is read through retcodes (default: 0 up, 1 down, any other warn).", {
    valueStatus: whenOff("no check command"),
  }),
  info: kw.string("Command printing key: value info lines for the collector.", { status: ignored("svcc has no info action") }),
  status_log: kw.bool("Log the check command's outputs in the status.", { default: "false", status: inert("the check's output is always in its report (svcc status) and, when it fails, in the journal") }),
  check_timeout: kw.duration("Bound on the check command (default 5s): a check that does not finish in time has failed.", { positive: true }),
  info_timeout: kw.duration("Bound on the info command.", { status: ignored("svcc has no info action") }),
  retcodes: kw.string("What the check command's exit codes mean: CODE:STATUS rules, STATUS one of up, down, warn, n/a, undef. An exit code without a rule is warn, as in OpenSVC; only down is a failed check (acted on when monitor=true), the others are reported.", { default: "0:up 1:down" }),
  desc: kw.string("Description of the app.", { status: inert("a label") }),
  cwd: kw.path("Working directory (WorkingDirectory=).", { static: true }),
  user: kw.user("User to run the commands as (User=).", { static: true }),
  group: kw.user("Group to run the commands as (Group=).", { static: true }),
  umask: kw.mode("Umask of the commands (UMask=).", { static: true }),
  environment: kw.words("KEY=VALUE words set in the commands' environment (Environment=)."),
  ...storeEnvironmentKeywords,
  netns: kw.rid("Run the commands in this container's network namespace.", { status: refused("not supported yet: run the command in the container (a container resource) instead") }),
  kill: kw.enum(["parent", "tree"], "What OpenSVC kills on stop when no stop command is set.", {
    status: ignored("systemd stops every process of the unit (KillMode=control-group), children included"),
  }),
  limit_as: limit("the address space", "LimitAS"),
  limit_vmem: limit("the virtual memory", "LimitAS"),
  limit_core: limit("core files", "LimitCORE"),
  limit_cpu: kw.duration("Limit on CPU time (LimitCPU=)."),
  limit_data: limit("the data segment", "LimitDATA"),
  limit_fsize: limit("file sizes", "LimitFSIZE"),
  limit_memlock: limit("locked memory", "LimitMEMLOCK"),
  limit_nofile: limit("open files", "LimitNOFILE"),
  limit_nproc: limit("processes", "LimitNPROC"),
  limit_rss: limit("the resident set", "LimitRSS"),
  limit_stack: limit("the stack", "LimitSTACK"),
} as const;

type AppValues = ValuesOf<typeof appKeywords>;

const limitDirectives: ReadonlyArray<[keyof AppValues, string]> = [
  ["limit_as", "LimitAS"], ["limit_vmem", "LimitAS"], ["limit_core", "LimitCORE"], ["limit_data", "LimitDATA"], ["limit_fsize", "LimitFSIZE"],
  ["limit_memlock", "LimitMEMLOCK"], ["limit_nofile", "LimitNOFILE"], ["limit_nproc", "LimitNPROC"], ["limit_rss", "LimitRSS"], ["limit_stack", "LimitSTACK"],
];

function settings(v: AppValues): Array<[string, string]> {
  const extra: Array<[string, string]> = [];
  if (v.user !== undefined) extra.push(["User", userValue(v.user)]);
  if (v.group !== undefined) extra.push(["Group", userValue(v.group)]);
  if (v.cwd !== undefined) extra.push(["WorkingDirectory", unquotedValue(v.cwd)]);
  if (v.umask !== undefined) extra.push(["UMask", v.umask]);
  for (const assignment of v.environment ?? []) {
    const eq = assignment.indexOf("=");
    extra.push(["Environment", environmentAssignment(assignment.slice(0, eq), assignment.slice(eq + 1))]);
  }
  for (const [key, directive] of limitDirectives) {
    const value = v[key];
    if (typeof value === "string") extra.push([directive, value]);
  }
  if (v.limit_cpu !== undefined) extra.push(["LimitCPU", String(Math.ceil(v.limit_cpu / 1000))]);
  return extra;
}

export const app = defineDriver({
  group: "app",
  types: ["simple", "forking"],
  doc: "An application started and stopped by commands. simple: the start command stays in the foreground; forking (OpenSVC's default): it runs to completion and may leave daemons.",
  source: "om3 drivers/resapp (base_keywords.go, unix_keywords.go, unix.go: commands and sequence numbers), resappsimple, resappforking, core/driver DefaultDriver; opensvc drivers/resource/app",
  keywords: appKeywords,
  timeouts: { start: 60_000, stop: 60_000 },
  startRank: 6,
  rules(v) {
    const problems: Array<{ key: string; status: KeywordStatus }> = [];
    for (const [key, action] of [["start", "start"], ["stop", "stop"], ["check", "status"]] as const) {
      try {
        actionCommand(v[key], v.script, action);
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        problems.push({ key, status: refused(err.message) });
      }
    }
    for (const assignment of v.environment ?? []) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(assignment)) problems.push({ key: "environment", status: refused(`expected KEY=VALUE words, got "${assignment}"`) });
    }
    if (v.retcodes !== undefined) {
      try {
        if (hasPlaceholder(v.retcodes)) throw new Error("cannot differ between nodes: use one value for every node");
        parseRetcodes(v.retcodes);
      } catch (err) {
        problems.push({ key: "retcodes", status: refused((err as Error).message) });
      }
    }
    problems.push(...storeItemRules(v));
    return problems;
  },
  build(resource, { service, svccBin }) {
    const v = resource.values;
    const script = v.script;
    const start = actionCommand(v.start, script, "start");
    const stop = actionCommand(v.stop, script, "stop");
    const extra = settings(v);
    const simple = resource.type === "simple" && start !== undefined;
    const unitName = resourceUnitName(service, resource.rid);
    const store = storeEnvironment(svccBin, service.namespace, unitName, v);
    if (store) extra.push(...store.settings);
    const steps: ServiceSteps = {
      type: simple ? "exec" : "oneshot",
      prepare: store ? [store.prepare] : [],
      start: start ? [start] : [],
      stop: stop ? [stop] : [],
      timeouts: timeoutsFor(resource, app.timeouts),
      extra,
    };
    const unit = serviceUnit(unitName, `${resource.type} application`, service, resource, steps);
    return single(unit, `app (${resource.type})${start ? "" : ": no start command"}`);
  },
});
