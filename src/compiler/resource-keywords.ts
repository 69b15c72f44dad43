// Keywords every resource takes, whatever its driver: om3 core/manifest/dbkeywords.go
// (genericKeywords, starterKeywords, stopperKeywords, provisioner and unprovisioner keywords,
// SCSIPersistentReservationKeywords), om3 core/object/core_keywords.go (the keywords without a
// section: timeouts, pg_*), and opensvc core/objects/svcdict.py (the same, plus legacy ones).

import { ignored, inert, kw, type KeywordDecls, type KeywordStatus, named, provisioningOnly, refused, type ValuesOf } from "./keyword.js";

// Resource triggers are the resource's own: DEFAULT's are the service's (opensvc reads them with
// use_default=False), run once around the whole action.
const trigger = (when: string, blocking: boolean) =>
  kw.shell(`Command run ${when}. ${blocking ? "Its failure aborts the action." : "Its failure is logged and ignored."} Run as OpenSVC runs commands (see \`app\`).`, { inherit: "resource-only" });

// OpenSVC runs these only in its startstandby action, on standby resources (checked in
// genericRules); on other resources nothing runs them.
const startStandbyTrigger = inert("only run by OpenSVC's startstandby action, on standby resources");

const notRun = (what: string) => ignored(`svcc compiles start and stop only; it never runs the ${what} action`);

const pgLimit = ignored("OpenSVC's process-group limits are not applied: set them on the generated units with a systemd drop-in (CPUQuota=, MemoryMax=, …)");

/** `scsireserv` and its two companions (om3 manifest.SCSIPersistentReservationKeywords). */
export const scsiReservationKeywords = {
  scsireserv: kw.bool("SCSI-3 persistent reservations on the resource's disks (OpenSVC registers a key and reserves the devices at start).", {
    default: "false",
    valueStatus: {
      true: refused("SCSI-3 persistent reservations are implemented on disk type=vg only (its physical volumes' paths): set scsireserv on the VG's disk resource. A config that relies on them here is refused rather than run without that fence"),
    },
    static: true,
  }),
  prkey: kw.string("The persistent reservation key (default: the node's).", { status: inert("only used with scsireserv=true, which svcc refuses outside disk type=vg") }),
  no_preempt_abort: kw.bool("Preempt without abort when taking the reservation.", { status: inert("only used with scsireserv=true, which svcc refuses outside disk type=vg") }),
} as const satisfies KeywordDecls;

export const genericKeywordDecls = {
  type: kw.string("Driver type within the group (see each group); OpenSVC's default applies when absent.", { static: true, inherit: "resource-only" }),
  disable: kw.bool("Leave the resource out entirely: no unit is generated.", { default: "false", static: true }),
  optional: kw.bool("Its failure does not fail the service (Wants= instead of Requires=, no rollback). DEFAULT's value, when set, wins over the resource's (as om3).", {
    default: "false",
    static: true,
    inherit: "default-first",
  }),
  monitor: kw.bool("Its failure, or a failed health check (docs/health.md), triggers DEFAULT.monitor_action after its restarts (carried to the agent as X-Svcc-Monitor and in service.json). Without it, a failed check is reported only.", { default: "false", static: true }),
  restart: kw.int("Local restarts before the failure counts: by systemd when the unit fails (Restart=on-failure, StartLimitBurst=restart+1), by the agent when a monitored resource's health check fails (after restart_delay, per start of the service on the node).", { default: "0", static: true }),
  restart_delay: kw.duration("Delay between local restarts (RestartSec=).", { default: "500ms", static: true }),
  tags: kw.list("Tags; `noaction` keeps the resource out of start/stop (no unit); other tags are labels.", { default: "", static: true }),
  subset: kw.string("Resource subset: within a driver group, resources start subset by subset (by subset name, resources without one first).", { static: true }),
  shared: kw.bool("The resource lives on shared storage.", { status: inert("a provisioning hint in OpenSVC") }),
  comment: kw.string("Free text.", { status: inert("a comment") }),
  encap: kw.bool("The resource runs inside an encapsulated container (a VM or container holding its own OpenSVC agent).", {
    default: "false",
    valueStatus: { true: refused("encapsulated services are not supported: svcc runs resources on the service's nodes only") },
    static: true,
  }),
  standby: kw.bool(
    "Keep the resource up on every node, also where the service is stopped (om3 StartStandby; its stop skips standby resources). svcc puts it in `<name>-standby.target`, outside the lease, started at boot on every node (the generator links it into multi-user.target; enable it by hand for units compiled with -o) and wanted by the service; the service's stop leaves it up. Refused on disk and ip resources, whose whole point is to be on one node.",
    { default: "false", static: true },
  ),
  always_on: kw.list("Legacy (OpenSVC 1.x): nodes where the resource is kept up as standby.", {
    status: refused("always_on is OpenSVC 1.x's standby, which svcc does not support (standby resources run outside the service's lease)"),
  }),
  start_timeout: kw.duration("Bound on the start step (TimeoutStartSec=). Default per driver; DEFAULT's value applies to resources that set none.", { static: true, positive: true }),
  stop_timeout: kw.duration("Bound on the stop step (TimeoutStopSec=). Default per driver; DEFAULT's value applies to resources that set none.", { static: true, positive: true }),
  timeout: kw.duration("Default for start_timeout and stop_timeout.", { static: true, positive: true }),
  status_timeout: kw.duration("Bound on a status evaluation.", { status: ignored("svcc has no status action: systemd tracks each unit's state") }),
  provision_timeout: kw.duration("Bound on provisioning.", { status: provisioningOnly }),
  unprovision_timeout: kw.duration("Bound on unprovisioning.", { status: provisioningOnly }),
  sync_timeout: kw.duration("Bound on a sync action.", { status: notRun("sync") }),
  provision: kw.bool("Whether the provision action handles this resource.", { status: provisioningOnly }),
  unprovision: kw.bool("Whether the unprovision action handles this resource.", { status: provisioningOnly }),
  pre_start: trigger("before start", false),
  blocking_pre_start: trigger("before start", true),
  post_start: trigger("after start", false),
  blocking_post_start: trigger("after start", true),
  pre_stop: trigger("before stop", false),
  blocking_pre_stop: trigger("before stop", true),
  post_stop: trigger("after stop", false),
  blocking_post_stop: trigger("after stop", true),
  pre_provision: kw.shell("Command run before provision.", { status: provisioningOnly }),
  post_provision: kw.shell("Command run after provision.", { status: provisioningOnly }),
  blocking_pre_provision: kw.shell("Command run before provision.", { status: provisioningOnly }),
  blocking_post_provision: kw.shell("Command run after provision.", { status: provisioningOnly }),
  pre_unprovision: kw.shell("Command run before unprovision.", { status: provisioningOnly }),
  post_unprovision: kw.shell("Command run after unprovision.", { status: provisioningOnly }),
  blocking_pre_unprovision: kw.shell("Command run before unprovision.", { status: provisioningOnly }),
  blocking_post_unprovision: kw.shell("Command run after unprovision.", { status: provisioningOnly }),
  pre_startstandby: kw.shell("Command run before a standby start.", { status: startStandbyTrigger }),
  post_startstandby: kw.shell("Command run after a standby start.", { status: startStandbyTrigger }),
  blocking_pre_startstandby: kw.shell("Command run before a standby start.", { status: startStandbyTrigger }),
  blocking_post_startstandby: kw.shell("Command run after a standby start.", { status: startStandbyTrigger }),
  start_requires: kw.list("Resources that must be in a state before this one starts, e.g. `ip#0 fs#0(up)`. Accepted when each comes earlier in the start order and the states allow `up`: svcc starts one resource at a time, so they are up by then.", { static: true }),
  stop_requires: kw.list("Resources that must be in a state before this one stops, e.g. `app#1(down)`. Accepted when each comes earlier in the stop order and the states allow `down`.", { static: true }),
  provision_requires: kw.list("Resource states required before provisioning.", { status: provisioningOnly }),
  unprovision_requires: kw.list("Resource states required before unprovisioning.", { status: provisioningOnly }),
  sync_requires: kw.list("Resource states required before a sync.", { status: notRun("sync") }),
  run_requires: kw.list("Resource states required before a run.", { status: notRun("run") }),
  pg_cpus: kw.string("Process group: allowed cpus.", { status: pgLimit, inherit: "resource-only" }),
  pg_mems: kw.string("Process group: allowed memory nodes.", { status: pgLimit, inherit: "resource-only" }),
  pg_cpu_shares: kw.string("Process group: cpu shares.", { status: pgLimit, inherit: "resource-only" }),
  pg_cpu_quota: kw.string("Process group: cpu quota.", { status: pgLimit, inherit: "resource-only" }),
  pg_mem_oom_control: kw.string("Process group: OOM control.", { status: pgLimit, inherit: "resource-only" }),
  pg_mem_limit: kw.string("Process group: memory limit.", { status: pgLimit, inherit: "resource-only" }),
  pg_vmem_limit: kw.string("Process group: memory+swap limit.", { status: pgLimit, inherit: "resource-only" }),
  pg_mem_swappiness: kw.string("Process group: swappiness.", { status: pgLimit, inherit: "resource-only" }),
  pg_blkio_weight: kw.string("Process group: block I/O weight.", { status: pgLimit, inherit: "resource-only" }),
} as const satisfies KeywordDecls;

export type GenericValues = ValuesOf<typeof genericKeywordDecls>;

/** Checks between generic keywords, for every driver (drivers add their own `rules`). */
export function genericRules(v: GenericValues): Array<{ key: keyof GenericValues & string; status: KeywordStatus }> {
  const problems: Array<{ key: keyof GenericValues & string; status: KeywordStatus }> = [];
  if (!v.standby) return problems;
  if (v.monitor) problems.push({ key: "monitor", status: refused("svcc's agent monitors the service's members, and a standby resource is outside them: drop monitor or standby") });
  for (const key of ["pre_startstandby", "post_startstandby", "blocking_pre_startstandby", "blocking_post_startstandby"] as const) {
    if (v[key] !== undefined) problems.push({ key, status: refused("svcc starts a standby resource the same way on every node, with its start triggers: a separate startstandby trigger would not run") });
  }
  return problems;
}

/** What a driver whose resources must stay on one node says of standby=true. */
export const standbyRefused = (why: string): { key: "standby"; status: KeywordStatus } => ({ key: "standby", status: refused(`standby=true is refused on ${why}`) });
export const genericKeywords = named(genericKeywordDecls);

/** Keywords of `[subset#<group>:<name>]` sections (om3 core_keywords.go `parallel`, the pg_* ones). */
export const subsetKeywordDecls = {
  parallel: kw.bool("Act on the subset's resources in parallel.", {
    status: ignored("svcc starts and stops one resource at a time, in OpenSVC's order; the subset's resources still start in their subset's place"),
  }),
  comment: genericKeywordDecls.comment,
  pg_cpus: genericKeywordDecls.pg_cpus,
  pg_mems: genericKeywordDecls.pg_mems,
  pg_cpu_shares: genericKeywordDecls.pg_cpu_shares,
  pg_cpu_quota: genericKeywordDecls.pg_cpu_quota,
  pg_mem_oom_control: genericKeywordDecls.pg_mem_oom_control,
  pg_mem_limit: genericKeywordDecls.pg_mem_limit,
  pg_vmem_limit: genericKeywordDecls.pg_vmem_limit,
  pg_mem_swappiness: genericKeywordDecls.pg_mem_swappiness,
  pg_blkio_weight: genericKeywordDecls.pg_blkio_weight,
} as const satisfies KeywordDecls;
export const subsetKeywords = named(subsetKeywordDecls);
