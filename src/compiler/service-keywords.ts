// Keywords of the DEFAULT section, the service's own (om3 core/object/core_keywords.go, kinds
// svc; opensvc core/objects/svcdict.py). DEFAULT may also hold resource keywords, for the benefit
// of every resource that does not set them (OpenSVC's "leaf > head" inheritance); those are
// checked against the resource drivers' tables.

import { genericKeywordDecls } from "./resource-keywords.js";
import { ignored, inert, kw, type KeywordDecls, named, provisioningOnly, refused, type ValuesOf } from "./keyword.js";

const schedule = (what: string) =>
  kw.string(`Schedule of the ${what}.`, { status: ignored(`svcc's agent has no ${what} schedule: systemd reports unit state changes as they happen`) });
const notRun = (what: string) => ignored(`svcc compiles start and stop only; it never runs the ${what} action`);
// om3 reads flex_primary only to pick the node that syncs the others and gets --leader
// provisioning (text/kw/core/flex_primary, shared): svcc runs neither.
const flexPrimary = ignored("the flex primary drives sync resources and leader provisioning, which svcc does not run");
// OpenSVC 2 pushes these to its collector for dashboard alerts (core/objects/svc.py); om3 dropped them.
const collectorAlert = ignored("only an alert threshold of OpenSVC's collector; it changes no placement");
const placementRefused = (what: string) => refused(`${what} decide where the service runs, and svcc's agent places services by nodes order only`);
const serviceTrigger = (when: string, blocking: boolean) =>
  kw.shell(`Command run once ${when} of the whole service. ${blocking ? "Its failure aborts the action." : "Its failure is logged and ignored."}`, { inherit: "resource-only" });

export const serviceKeywordDecls = {
  nodes: kw.list("Ordered node names (first is preferred); globs (`n*`, `*`) select among the cluster's nodes. Default: the cluster's nodes.", { static: true }),
  drpnodes: kw.list("Disaster-recovery nodes; `keyword@drpnodes` values apply to them.", { default: "", static: true }),
  drpnode: kw.string("Legacy (OpenSVC 1.x): the disaster-recovery node.", { status: refused("drpnode is OpenSVC 1.x's single DRP node: use drpnodes") }),
  encapnodes: kw.list("Nodes inside the service's encapsulated containers.", {
    status: ignored("svcc runs no encapsulated resources (encap=true is refused), so values scoped @encapnodes are not used"),
  }),
  // OpenSVC 1.9 dropped it (docs agent.migration.rst "Remove DEFAULT.autostart_node"); OpenSVC 2
  // still loads such a config and its validate says "ignored option DEFAULT.autostart_node"
  // (core/extconfig.py). Ignoring it can only start a service less, never somewhere else.
  autostart_node: kw.list("OpenSVC 1.8: the node(s) where the service started at boot.", {
    status: ignored(
      "OpenSVC 1.8's start placement, ignored since OpenSVC 1.9 (OpenSVC 2 warns \"ignored option\" too): to start the service on that node, put it first in nodes and set orchestrate=start, as OpenSVC's migration guide says",
    ),
  }),
  orchestrate: kw.enum(["no", "start", "ha"], "no: explicit commands only; start: start on the first available node; ha: also fail over.", { default: "no", static: true }),
  topology: kw.enum(
    ["failover", "flex"],
    "failover: up on one node at a time, where svcc's agent holds the lease. flex: up on several nodes at once (om3 core/topology); svcc runs a flex service on every node of `nodes` (flex_target must come to the node count, e.g. `flex_min = {#nodes}`), each node starting its own instance outside the lease: no lease guard, no agent, `<name>.target` started at boot with orchestrate=start or ha. Refused in a flex service: disks, service addresses, filesystems on a block device, monitor=true, drpnodes (each explained in the error).",
    { default: "failover", static: true, aliases: ["cluster_type"] },
  ),
  placement: kw.enum(["nodes order", "none", "last start", "load avg", "shift", "spread", "score"], "Placement policy: the first available node in `nodes` order.", {
    default: "nodes order",
    static: true,
    valueStatus: Object.fromEntries(["none", "last start", "load avg", "shift", "spread", "score"].map((p) => [p, placementRefused(`placement=${p}`)])),
  }),
  priority: kw.int("Orchestration priority: which services the daemon serves first when its parallel actions are limited.", {
    default: "100",
    static: true,
    status: ignored("svcc's agent acts on each service independently, with no limit on parallel actions to arbitrate"),
  }),
  monitor_action: kw.enum(["none", "freezestop", "switch", "reboot", "crash"], "What the agent does when a resource with monitor=true fails, after its restarts.", { default: "none", static: true }),
  pre_monitor_action: kw.shell("Command run before the monitor action.", {
    status: refused("svcc's agent runs no command before its monitor action; a hook that prepares a failover must not be skipped silently"),
  }),
  rollback: kw.bool("A failed start stops everything the start brought up.", { default: "true", static: true }),
  // OpenSVC waits 5 s for an answer before every start; a holder on the LAN answers a DAD probe
  // within a millisecond or two, so svcc waits much less by default (src/runtime/arp.ts).
  precheck_wait: kw.duration("How long the precheck listens for an answer to its ARP probes (3 probes, a third of this apart) before it calls the service addresses free; from 30ms to 6s. A node or host that answers stops the start.", {
    default: "150ms",
    static: true,
    svccOnly: true,
    positive: true,
  }),
  disable: kw.bool("Compile nothing for a disabled service (an error, so nothing is silently dropped).", { default: "false", static: true }),
  id: kw.string("OpenSVC object id.", { status: inert("an identifier for OpenSVC's collector") }),
  comment: kw.string("Free text.", { status: inert("a comment") }),
  app: kw.string("Application code (who is responsible, who is billed).", { default: "default", status: inert("a label for OpenSVC's collector") }),
  env: kw.string("Environment code such as PRD or DEV. OpenSVC never starts a non-PRD service on a PRD node.", {
    aliases: ["service_type"],
    status: ignored("the rule that a non-PRD service never starts on a PRD node is not enforced: svcc's cluster facts have no node env"),
    valueStatus: { PRD: inert("a PRD service may start on any node, so there is nothing to enforce") },
  }),
  namespace: kw.string("OpenSVC namespace (svcc: set here, since there is no object path), used by {namespace} and {fqdn}.", { default: "root", static: true, svccOnly: true }),
  create_pg: kw.bool("Put the service's processes in cgroups with the pg_* limits.", { default: "true", status: inert("systemd already puts each unit in its own cgroup; pg_* limits are reported separately") }),
  stonith: kw.bool("Fence the peer with a callout before taking over from it.", {
    default: "false",
    valueStatus: {
      true: refused("an external STONITH callout is not supported: svcc's agent fences through its lease (a node that loses it stops or reboots itself) and runs no callout against the peer"),
    },
    static: true,
  }),
  hard_affinity: kw.list("Services this one must run beside.", { aliases: ["affinity"], status: placementRefused("affinities") }),
  hard_anti_affinity: kw.list("Services this one must not run beside.", { aliases: ["anti_affinity"], status: placementRefused("affinities") }),
  soft_affinity: kw.list("Services this one prefers to run beside.", { status: placementRefused("affinities") }),
  soft_anti_affinity: kw.list("Services this one prefers not to run beside.", { status: placementRefused("affinities") }),
  constraints: kw.string("An expression a node must satisfy to run the service.", { status: placementRefused("placement constraints") }),
  parents: kw.list("Services that must be up before this one starts.", { status: refused("service dependencies (parents/children) are not supported: svcc's agent starts each service on its own") }),
  children: kw.list("Services that must be down before this one stops.", { status: refused("service dependencies (parents/children) are not supported: svcc's agent stops each service on its own") }),
  slaves: kw.list("Services enslaved to this one.", { status: refused("service dependencies (slaves) are not supported: svcc's agent acts on each service on its own") }),
  scale: kw.int("Number of instances of a scaler service.", { status: refused("scaler services are not supported: svcc builds one failover service per config") }),
  scaler_slave: kw.bool("This service is an instance of a scaler.", { status: refused("scaler services are not supported: svcc builds one failover service per config") }),
  flex_primary: kw.string("The flex service's primary node.", { status: flexPrimary }),
  drp_flex_primary: kw.string("The flex service's primary DRP node.", { status: flexPrimary }),
  flex_min: kw.int("topology=flex: the minimum number of up instances (om3: default 1, within 1 and the node count; below it OpenSVC reports the service degraded), and flex_target's default.", {
    aliases: ["flex_min_nodes"],
    static: true,
  }),
  flex_max: kw.int("topology=flex: the maximum number of up instances (om3: default and at most the node count, at least flex_min).", { aliases: ["flex_max_nodes"], static: true }),
  flex_target: kw.int("topology=flex: how many instances run (om3: default flex_min, within flex_min and flex_max). svcc runs one on every node, so this (after om3's bounds) must be the node count: fewer would need OpenSVC's placement across nodes, which svcc refuses.", { static: true }),
  flex_cpu_low_threshold: kw.int("OpenSVC 2: CPU usage below which its collector flags a flex service.", { status: collectorAlert }),
  flex_cpu_high_threshold: kw.int("OpenSVC 2: CPU usage above which its collector flags a flex service.", { status: collectorAlert }),
  monitor_schedule: kw.string("How often the check unit (<svc>-check.timer) runs every resource's health check while the service is up here: `@<interval>` (`@30s`, `@1m`, `@2h`; a bare number is minutes, as OpenSVC). Time ranges and days are refused.", { default: "@1m", static: true }),
  status_schedule: schedule("status evaluation"),
  resinfo_schedule: schedule("resource info push"),
  comp_schedule: kw.string("Schedule of the compliance checks.", { status: notRun("compliance") }),
  push_schedule: kw.string("Schedule of the config push to the collector.", { status: notRun("push") }),
  sync_schedule: kw.string("Schedule of the sync resources.", { status: notRun("sync") }),
  run_schedule: kw.string("Schedule of the task resources.", { status: notRun("run") }),
  stat_timeout: kw.duration("Bound on filesystem stat calls of the status checks.", { status: ignored("svcc has no status action: systemd tracks each mount") }),
  lock_timeout: kw.duration("Bound on waiting for the service's action lock.", { status: ignored("systemd serializes jobs on the service's units itself") }),
  mode: kw.string("Legacy (OpenSVC 1.x) hosting mode.", { status: ignored("a deprecated OpenSVC 1.x keyword without effect in OpenSVC 2 either") }),
  show_disabled: kw.bool("Show disabled resources in status.", { status: inert("a display option") }),
  // OpenSVC 2 (opensvc utilities/subsystems/docker.py DockerLib): with container_data_dir set,
  // docker containers run on a private dockerd whose data root lives there, started before the
  // first container and stopped after the last. om3 dropped the keyword; the configs written
  // for OpenSVC 2 rely on it (images and container state move with the service), so svcc runs
  // that daemon as a member unit rather than ignore it.
  container_data_dir: kw.path("The data root of the service's private docker daemon (`dockerd --data-root`), usually on one of the service's filesystems so that images and container state move with it. svcc runs that daemon as `<name>-dockerd.service`, after the filesystems and before the first docker container, and runs the service's docker containers on it (opensvc utilities/subsystems/docker.py).", {
    aliases: ["docker_data_dir"],
    static: true,
  }),
  docker_daemon_private: kw.bool("Run the service's docker containers on a private docker daemon (default: true when container_data_dir is set, as OpenSVC 2).", { static: true }),
  docker_daemon_args: kw.words("More arguments of the private docker daemon, after svcc's own. OpenSVC 2 adds `--exec-opt native.cgroupdriver=cgroupfs` unless these hold an `--exec-opt`; svcc does too, with `--cgroup-parent /svcc-docker-<id>` so that its agent can prove the containers gone once the daemon is down (not when these choose the cgroup driver or parent: then a daemon that does not answer proves nothing).", { static: true }),
  docker_exe: kw.path("Path of the docker client.", { status: ignored("units run the engine found on systemd's PATH (docker or podman)") }),
  dockerd_exe: kw.path("Path of the private docker daemon's executable. Default: `dockerd`, found on systemd's PATH.", { static: true }),
  registry_creds: kw.string("A secret holding registry credentials for image pulls.", {
    status: ignored("svcc has no secret store: the node's engine pulls with its own credentials (docker login / podman login on each node), as om3 does when this is not set"),
  }),
  aws: kw.string("Path of the aws client.", { status: ignored("only used by Amazon drivers, which svcc does not support") }),
  aws_profile: kw.string("The aws profile.", { status: ignored("only used by Amazon drivers, which svcc does not support") }),
  access: kw.string("Volume access mode.", { status: ignored("only meaningful for volume objects") }),
  pool: kw.string("Volume pool.", { status: ignored("only meaningful for volume objects") }),
  size: kw.string("Volume size.", { status: ignored("only meaningful for volume objects") }),
  bwlimit: kw.string("Sync bandwidth limit.", { status: notRun("sync") }),
  sync_interval: kw.string("Sync interval.", { status: notRun("sync") }),
  sync_max_delay: kw.string("Sync max delay.", { status: notRun("sync") }),
  presnap_trigger: kw.shell("Command run before sync snapshots.", { status: notRun("sync") }),
  postsnap_trigger: kw.shell("Command run after sync snapshots.", { status: notRun("sync") }),
  pre_run: kw.shell("Command run before a task run.", { status: notRun("run") }),
  post_run: kw.shell("Command run after a task run.", { status: notRun("run") }),
  blocking_pre_run: kw.shell("Command run before a task run.", { status: notRun("run") }),
  blocking_post_run: kw.shell("Command run after a task run.", { status: notRun("run") }),
  pre_start: serviceTrigger("before the start", false),
  blocking_pre_start: serviceTrigger("before the start", true),
  post_start: serviceTrigger("after the start", false),
  blocking_post_start: serviceTrigger("after the start", true),
  pre_stop: serviceTrigger("before the stop", false),
  blocking_pre_stop: serviceTrigger("before the stop", true),
  post_stop: serviceTrigger("after the stop", false),
  blocking_post_stop: serviceTrigger("after the stop", true),
  pre_provision: kw.shell("Command run before provisioning.", { status: provisioningOnly }),
  post_provision: kw.shell("Command run after provisioning.", { status: provisioningOnly }),
  pre_unprovision: kw.shell("Command run before unprovisioning.", { status: provisioningOnly }),
  post_unprovision: kw.shell("Command run after unprovisioning.", { status: provisioningOnly }),
  timeout: kw.duration("Bound on a whole service action; also the default of each resource's timeout.", { static: true, positive: true }),
  start_timeout: genericKeywordDecls.start_timeout,
  stop_timeout: genericKeywordDecls.stop_timeout,
} as const satisfies KeywordDecls;

export type ServiceValues = ValuesOf<typeof serviceKeywordDecls>;
export const serviceKeywords = named(serviceKeywordDecls);
