// The one keyword table: it drives the ajv schema (scripts/build.ts), docs/keywords.md
// (generated), value conversion and every "unknown key" / "wrong type" message.

export type KeywordType =
  | "string" // any single-line text
  | "bool" // true/false (also yes/no, 1/0)
  | "int" // a non-negative whole number
  | "duration" // 500ms, 5s, 1m30s, or plain seconds
  | "list" // words separated by spaces or commas
  | "words" // a command line, split like a POSIX shell does (quotes honoured)
  | "shell" // a command line run by /bin/sh -c
  | "path" // an absolute path
  | "rid" // a resource id such as container#0
  | "mode" // an octal file mode such as 0755
  | "enum";

export interface Keyword {
  name: string;
  type: KeywordType;
  doc: string;
  default?: string;
  values?: readonly string[];
  required?: boolean;
  /** The value shapes unit names or mount units, so it must be the same on every node. */
  static?: boolean;
}

export interface DriverTable {
  group: string;
  /** Values `type` may take; "" means the keyword may be absent. */
  types: readonly string[];
  doc: string;
  keywords: readonly Keyword[];
}

const triggerDoc = (when: string, blocking: boolean) =>
  `Shell command run ${when}.` +
  (blocking ? " Its failure aborts the action." : " Its failure is logged and ignored.");

const triggers: Keyword[] = ["start", "stop"].flatMap((action) =>
  (["pre", "post"] as const).flatMap((phase) => [
    { name: `${phase}_${action}`, type: "shell" as const, doc: triggerDoc(`${phase === "pre" ? "before" : "after"} ${action}`, false) },
    { name: `blocking_${phase}_${action}`, type: "shell" as const, doc: triggerDoc(`${phase === "pre" ? "before" : "after"} ${action}`, true) },
  ]),
);

/** Keywords every resource takes. */
export const genericResourceKeywords: readonly Keyword[] = [
  { name: "type", type: "string", doc: "Driver type within the group (see each group).", static: true },
  { name: "disable", type: "bool", default: "false", doc: "Leave the resource out entirely: no unit is generated.", static: true },
  { name: "optional", type: "bool", default: "false", doc: "Its failure does not fail the service (Wants= instead of Requires=, no rollback).", static: true },
  { name: "monitor", type: "bool", default: "false", doc: "Its failure triggers DEFAULT.monitor_action (carried to the agent as X-Svcc-Monitor).", static: true },
  { name: "restart", type: "int", default: "0", doc: "Local restarts before the failure counts (Restart=on-failure, StartLimitBurst=restart+1).", static: true },
  { name: "restart_delay", type: "duration", default: "500ms", doc: "Delay between local restarts (RestartSec=).", static: true },
  { name: "tags", type: "list", default: "", doc: "Tags; `noaction` keeps the resource out of start/stop (no unit), `nostatus` is accepted.", static: true },
  { name: "subset", type: "string", doc: "OpenSVC subset name; accepted for compatibility, svcc starts resources one at a time in order.", static: true },
  { name: "shared", type: "bool", default: "false", doc: "The resource lives on shared storage (informational).", static: true },
  { name: "comment", type: "string", doc: "Free text, ignored." },
  { name: "start_timeout", type: "duration", doc: "Bound on the start step (TimeoutStartSec=). Default per driver.", static: true },
  { name: "stop_timeout", type: "duration", doc: "Bound on the stop step (TimeoutStopSec=). Default per driver.", static: true },
  ...triggers,
];

export const defaultSection: DriverTable = {
  group: "DEFAULT",
  types: [""],
  doc: "Service-wide keywords.",
  keywords: [
    { name: "nodes", type: "list", doc: "Ordered node names (first is preferred). Usually `{clusternodes}`.", static: true },
    { name: "drpnodes", type: "list", default: "", doc: "Disaster-recovery nodes; `keyword@drpnodes` values apply to them.", static: true },
    { name: "orchestrate", type: "enum", values: ["no", "start", "ha"], default: "no", doc: "no: explicit commands only; start: start on the first available node; ha: also fail over.", static: true },
    { name: "topology", type: "enum", values: ["failover"], default: "failover", doc: "svcc builds failover services only.", static: true },
    { name: "placement", type: "enum", values: ["nodes order"], default: "nodes order", doc: "Placement policy.", static: true },
    { name: "priority", type: "int", default: "100", doc: "Orchestration priority (informational).", static: true },
    { name: "monitor_action", type: "enum", values: ["none", "freezestop", "switch", "reboot", "crash"], default: "none", doc: "What the agent does when a resource with monitor=true fails.", static: true },
    { name: "rollback", type: "bool", default: "true", doc: "A failed start stops everything the start brought up.", static: true },
    { name: "disable", type: "bool", default: "false", doc: "Compile nothing for a disabled service (an error, so nothing is silently dropped).", static: true },
    { name: "id", type: "string", doc: "OpenSVC service id (informational)." },
    { name: "comment", type: "string", doc: "Free text, ignored." },
    { name: "namespace", type: "string", default: "root", doc: "OpenSVC namespace, used by {namespace} and {fqdn}.", static: true },
  ],
};

export const driverTables: readonly DriverTable[] = [
  {
    group: "disk",
    types: ["vg"],
    doc: "LVM volume group, fenced by host tags: start drops other nodes' tags, adds this node's, activates; stop deactivates and drops this node's tag.",
    keywords: [
      { name: "name", type: "string", required: true, doc: "Volume group name.", static: true },
      { name: "pvs", type: "list", doc: "Physical volumes (informational: svcc does not create the VG)." },
      { name: "options", type: "string", doc: "Extra vgchange options (informational)." },
    ],
  },
  {
    group: "disk",
    types: ["lv"],
    doc: "LVM logical volume: `lvchange -a y` on start, `-a n` on stop.",
    keywords: [
      { name: "name", type: "string", required: true, doc: "Logical volume name.", static: true },
      { name: "vg", type: "string", required: true, doc: "Volume group name.", static: true },
      { name: "size", type: "string", doc: "Size at creation (informational: svcc does not create the LV)." },
      { name: "create_options", type: "string", doc: "lvcreate options (informational)." },
    ],
  },
  {
    group: "fs",
    types: ["xfs", "ext2", "ext3", "ext4", "btrfs", "vfat", "tmpfs", "nfs", "nfs4", "zfs"],
    doc: "A filesystem mounted by a real systemd .mount unit, plus a service that releases the mount's users at stop.",
    keywords: [
      { name: "dev", type: "string", required: true, doc: "Device, or source for network filesystems.", static: true },
      { name: "mnt", type: "path", required: true, doc: "Mount point (names the .mount unit).", static: true },
      { name: "mnt_opt", type: "string", doc: "Mount options (Options=).", static: true },
      { name: "mkfs_opt", type: "string", doc: "mkfs options (informational: svcc does not format)." },
      { name: "stat_timeout", type: "duration", default: "5s", doc: "Accepted for compatibility." },
      { name: "user", type: "string", doc: "Owner of the mounted filesystem's root." },
      { name: "group", type: "string", doc: "Group of the mounted filesystem's root." },
      { name: "perm", type: "mode", doc: "Mode of the mounted filesystem's root, e.g. 0750." },
      { name: "kill_rounds", type: "int", default: "3", doc: "At stop, rounds of killing the mount's users (fuser -kmM) before giving up.", static: true },
    ],
  },
  {
    group: "ip",
    types: ["", "host"],
    doc: "A service address on a host interface.",
    keywords: [
      { name: "ipname", type: "string", required: true, doc: "The address." },
      { name: "ipdev", type: "string", required: true, doc: "Host interface." },
      { name: "netmask", type: "string", required: true, doc: "Prefix length or dotted mask." },
      { name: "gateway", type: "string", doc: "Accepted for compatibility (host routes are left alone)." },
      { name: "alias", type: "bool", default: "true", doc: "Accepted for compatibility (addresses are always added, never aliases)." },
      { name: "check_carrier", type: "bool", default: "true", doc: "Accepted for compatibility." },
    ],
  },
  {
    group: "ip",
    types: ["netns"],
    doc: "A service address plumbed into a container's network namespace.",
    keywords: [
      { name: "netns", type: "rid", required: true, doc: "The container resource whose netns receives the address (container#N).", static: true },
      { name: "mode", type: "enum", values: ["bridge", "macvlan", "ipvlan-l2", "ipvlan-l3"], default: "bridge", doc: "How the interface is made on ipdev.", static: true },
      { name: "ipname", type: "string", required: true, doc: "The address." },
      { name: "ipdev", type: "string", required: true, doc: "Host interface (the bridge in bridge mode)." },
      { name: "netmask", type: "string", required: true, doc: "Prefix length or dotted mask." },
      { name: "gateway", type: "string", doc: "Default route inside the netns." },
      { name: "nsdev", type: "string", doc: "Interface name inside the netns (default: first free ethN)." },
      { name: "macaddr", type: "string", doc: "MAC address of the interface." },
      { name: "del_net_route", type: "bool", default: "false", doc: "Delete the subnet route inside the netns." },
    ],
  },
  {
    group: "container",
    types: ["", "docker", "podman", "oci"],
    doc: "A container run in the foreground under systemd, named `<svc>.container.<index>`. `oci` or no type uses the cluster's engine (docker by default).",
    keywords: [
      { name: "image", type: "string", required: true, doc: "Image reference." },
      { name: "command", type: "words", doc: "Command and arguments after the image." },
      { name: "run_args", type: "words", doc: "Extra `run` arguments, before the image." },
      { name: "entrypoint", type: "words", doc: "Entrypoint (first word; the rest is prepended to command)." },
      { name: "rm", type: "bool", default: "false", doc: "Remove the container after stop." },
      { name: "detach", type: "bool", default: "true", doc: "true: a long-running container; false: run to completion at start (a oneshot).", static: true },
      { name: "netns", type: "string", doc: "`none`, `host`, or `container#N` to share that container's netns. Default: none when an ip resource plumbs this container, else the engine's default.", static: true },
      { name: "hostname", type: "string", doc: "Container hostname." },
      { name: "privileged", type: "bool", default: "false", doc: "Run privileged." },
      { name: "user", type: "string", doc: "User (uid[:gid]) inside the container." },
      { name: "environment", type: "words", doc: "KEY=VALUE words passed with -e." },
      { name: "volume_mounts", type: "words", doc: "Volume specs passed with -v." },
      { name: "init", type: "bool", default: "false", doc: "Run an init process (--init) that reaps and forwards signals." },
    ],
  },
  {
    group: "app",
    types: ["simple", "forking"],
    doc: "An application started and stopped by commands.",
    keywords: [
      { name: "start", type: "shell", required: true, doc: "Start command (simple: stays in the foreground; forking: forks and exits)." },
      { name: "stop", type: "shell", doc: "Stop command (default: systemd stops the main process)." },
      { name: "check", type: "shell", doc: "Status command (carried to the agent as X-Svcc-Check)." },
      { name: "timeout", type: "duration", doc: "Default for start_timeout and stop_timeout." },
      { name: "check_timeout", type: "duration", doc: "Bound on the check command (informational)." },
      { name: "retcodes", type: "string", default: "0:up 1:down", doc: "Check exit code meanings (informational)." },
      { name: "user", type: "string", doc: "User to run the commands as (User=).", static: true },
      { name: "cwd", type: "path", doc: "Working directory.", static: true },
    ],
  },
];

export const resourceGroups: readonly string[] = [...new Set(driverTables.map((t) => t.group))];

/** Start rank of each group: ip (host), disk, fs, container (with netns ips beside it), app. */
export const groupStartRank: Readonly<Record<string, number>> = { ip: 0, disk: 1, fs: 2, container: 3, app: 4 };

/** Default start/stop timeouts per driver, in milliseconds. */
export const defaultTimeouts: Readonly<Record<string, { start: number; stop: number }>> = {
  vg: { start: 60_000, stop: 60_000 },
  lv: { start: 30_000, stop: 30_000 },
  fs: { start: 30_000, stop: 60_000 },
  ip: { start: 15_000, stop: 15_000 },
  container: { start: 5_000, stop: 10_000 },
  app: { start: 60_000, stop: 60_000 },
  precheck: { start: 15_000, stop: 5_000 },
};

export function tableFor(group: string, type: string): DriverTable | undefined {
  return driverTables.find((t) => t.group === group && t.types.includes(type));
}

const keywordMaps = new Map<string, ReadonlyMap<string, Keyword>>();

/** Every keyword a resource of this group and type takes (cached: it is asked for a lot). */
export function keywordsFor(group: string, type: string): ReadonlyMap<string, Keyword> {
  const id = `${group}\u0000${type}`;
  let map = keywordMaps.get(id);
  if (!map) {
    const table = tableFor(group, type);
    map = new Map([...genericResourceKeywords, ...(table?.keywords ?? [])].map((k) => [k.name, k]));
    keywordMaps.set(id, map);
  }
  return map;
}

export const defaultKeywords: ReadonlyMap<string, Keyword> = new Map(defaultSection.keywords.map((k) => [k.name, k]));
