// Every keyword OpenSVC defines for the drivers svcc compiles has a status in svcc's table.
// The names below are read from OpenSVC's own sources (om3 at c979e4c0: drivers/*/manifest.go,
// core/manifest/dbkeywords.go, core/object/core_keywords.go, core/datarecv; the Python agent
// opensvc at 17db875b: drivers/resource/*, core/objects/svcdict.py), aliases included.

import { describe, expect, it } from "vitest";
import { driverFor, keywordsOf, serviceKeywordMap, subsetKeywordMap } from "../../src/compiler/keywords.js";
import type { Keyword } from "../../src/compiler/keyword.js";

const generic = [
  "blocking_post_provision", "blocking_post_start", "blocking_post_stop", "blocking_post_unprovision", "blocking_pre_provision", "blocking_pre_start",
  "blocking_pre_stop", "blocking_pre_unprovision", "disable", "encap", "monitor", "optional", "post_provision", "post_start", "post_stop",
  "post_unprovision", "pre_provision", "pre_start", "pre_stop", "pre_unprovision", "provision", "provision_requires", "restart", "restart_delay",
  "shared", "standby", "start_requires", "stop_requires", "subset", "tags", "unprovision", "unprovision_requires", "comment", "type", "timeout",
  "status_timeout", "start_timeout", "stop_timeout", "provision_timeout", "unprovision_timeout", "sync_timeout", "pg_cpus", "pg_mems",
  "pg_cpu_shares", "pg_cpu_quota", "pg_mem_oom_control", "pg_mem_limit", "pg_vmem_limit", "pg_mem_swappiness", "pg_blkio_weight",
  // opensvc only
  "always_on", "pre_startstandby", "post_startstandby", "blocking_pre_startstandby", "blocking_post_startstandby",
];
const scsi = ["scsireserv", "prkey", "no_preempt_abort"];

const drivers: Record<string, string[]> = {
  "disk vg": [...scsi, "promote_rw", "name", "vgname", "pvs", "options"],
  "disk lvm": ["vgname", "name"],
  "disk lv": [...scsi, "promote_rw", "name", "vg", "size", "create_options"],
  "fs ext4": [...scsi, "check_read", "dev", "mkfs_opt", "mnt", "mnt_opt", "promote_rw", "stat_timeout", "zone", "vg", "size", "snap_size", "create_options",
    "user", "group", "perm", "install", "configs", "secrets", "directories", "dirperm", "signal"],
  "fs flag": [],
  "ip host": ["alias", "check_carrier", "dev", "ipdev", "expose", "gateway", "name", "ipname", "netmask", "network", "wait_dns", "dns_update", "dns_name_suffix", "provisioner", "zone"],
  "ip netns": ["alias", "check_carrier", "del_net_route", "dev", "ipdev", "dns_name_suffix", "expose", "gateway", "macaddr", "mode", "name", "ipname", "netmask",
    "netns", "container_rid", "network", "nsdev", "vlan_mode", "vlan_tag", "wait_dns"],
  "ip docker": ["container_rid", "netns"],
  "container docker": [...scsi, "command", "run_command", "configs_environment", "cwd", "detach", "devices", "dns_search", "entrypoint", "environment", "hostname", "image",
    "run_image", "image_pull_policy", "init", "interactive", "ipcns", "log_outputs", "name", "netns", "net", "pidns", "privileged", "pull_timeout", "read_only",
    "registry_creds", "rm", "run_args", "secrets_environment", "start_timeout", "stop_timeout", "sysctl", "tty", "user", "utsns", "volume_mounts", "userns",
    "guest_os", "guestos", "osvc_root_path"],
  "container podman": ["userns", "image", "command"],
  "container oci": ["userns", "image", "command"],
  "app simple": ["check_timeout", "configs_environment", "cwd", "desc", "environment", "group", "info", "info_timeout", "limit_as", "limit_core", "limit_cpu",
    "limit_data", "limit_fsize", "limit_memlock", "limit_nofile", "limit_nproc", "limit_rss", "limit_stack", "limit_vmem", "netns", "retcodes", "script",
    "secrets_environment", "status_log", "stop_timeout", "timeout", "umask", "user", "check", "start", "stop", "kill"],
  "app forking": ["check", "start", "start_timeout", "stop", "script", "status_log", "limit_nofile", "user", "group", "cwd"],
};

const service = [
  "hard_affinity", "affinity", "hard_anti_affinity", "anti_affinity", "soft_affinity", "soft_anti_affinity", "id", "comment", "disable", "create_pg",
  "stat_timeout", "nodes", "drpnodes", "encapnodes", "monitor_action", "pre_monitor_action", "app", "env", "service_type", "stonith", "placement", "topology",
  "cluster_type", "flex_primary", "flex_min", "flex_min_nodes", "flex_max", "flex_max_nodes", "flex_target", "parents", "children", "orchestrate", "priority",
  "rollback", "monitor_schedule", "resinfo_schedule", "status_schedule", "comp_schedule", "sync_schedule", "run_schedule", "timeout", "start_timeout",
  "stop_timeout",
  // opensvc only
  "lock_timeout", "mode", "push_schedule", "drp_flex_primary", "docker_exe", "dockerd_exe", "container_data_dir", "docker_data_dir", "docker_daemon_private",
  "docker_daemon_args", "registry_creds", "access", "pool", "size", "show_disabled", "scale", "scaler_slave", "constraints", "flex_cpu_low_threshold",
  "flex_cpu_high_threshold", "slaves", "drpnode", "aws", "aws_profile", "bwlimit", "sync_interval", "sync_max_delay", "presnap_trigger", "postsnap_trigger",
  "pre_start", "post_start", "pre_stop", "post_stop", "blocking_pre_start", "blocking_post_start", "blocking_pre_stop", "blocking_post_stop", "pre_run",
  "post_run", "blocking_pre_run", "blocking_post_run",
  // OpenSVC 1.8, documented in its migration guide
  "autostart_node",
];

function described(k: Keyword | undefined): boolean {
  if (!k || k.doc.trim() === "") return false;
  return k.status.kind === "implemented" || k.status.why.trim() !== "";
}

describe("every keyword OpenSVC defines has a status in svcc's table", () => {
  it.each(Object.entries(drivers))("%s", (driver, names) => {
    const [group, type] = driver.split(" ");
    const spec = driverFor(group, type);
    expect(spec, driver).toBeDefined();
    const known = keywordsOf(spec!);
    for (const name of [...generic, ...names]) expect(described(known.get(name)), `${driver}: ${name}`).toBe(true);
  });

  it("DEFAULT", () => {
    for (const name of service) expect(described(serviceKeywordMap.get(name)), `DEFAULT: ${name}`).toBe(true);
  });

  it("subset sections", () => {
    for (const name of ["parallel", "comment", "pg_cpus", "pg_mem_limit"]) expect(described(subsetKeywordMap.get(name)), `subset: ${name}`).toBe(true);
  });

  it("a keyword that protects data or decides where a resource runs is never merely a warning", () => {
    const docker = keywordsOf(driverFor("container", "docker")!);
    const vg = keywordsOf(driverFor("disk", "vg")!);
    // scsireserv is implemented on disk vg (its disks are the VG's PVs), refused where svcc cannot know the disks
    expect(vg.get("scsireserv")!.status.kind).toBe("implemented");
    expect(vg.get("scsireserv")!.valueStatus).toBeUndefined();
    for (const [group, type] of [["fs", "xfs"], ["disk", "lv"], ["container", "docker"]]) {
      expect(keywordsOf(driverFor(group, type)!).get("scsireserv")!.valueStatus?.true?.kind, `${group} ${type}`).toBe("refused");
    }
    // standby runs a resource on every node: implemented outside the lease, refused on disks and addresses (their rules)
    expect(docker.get("standby")!.status.kind).toBe("implemented");
    expect(docker.get("standby")!.valueStatus).toBeUndefined();
    for (const [group, type] of [["disk", "vg"], ["disk", "lv"], ["ip", "host"], ["ip", "netns"]]) {
      expect(driverFor(group, type)!.rules!({ standby: true } as never).map((r) => `${r.key} ${r.status.kind}`), `${group} ${type}`).toContain("standby refused");
    }
    expect(docker.get("encap")!.valueStatus?.true?.kind).toBe("refused");
    for (const name of ["hard_affinity", "constraints", "parents", "pre_monitor_action"]) {
      expect(serviceKeywordMap.get(name)!.status.kind, name).toBe("refused");
    }
    // OpenSVC 1.8's boot placement, ignored by OpenSVC since 1.9: without it a service starts
    // less (orchestrate decides), never on another node; a warning, an error with --strict.
    expect(serviceKeywordMap.get("autostart_node")!.status.kind).toBe("ignored");
    expect(serviceKeywordMap.get("stonith")!.valueStatus?.true?.kind).toBe("refused");
    expect(serviceKeywordMap.get("placement")!.valueStatus?.spread?.kind).toBe("refused");
    // topology=flex runs the service on every node, outside the lease (flex.ts): implemented, and
    // what it cannot honour (fewer instances than nodes, disks, addresses…) is refused per config.
    expect(serviceKeywordMap.get("topology")!.valueStatus).toBeUndefined();
    for (const name of ["flex_min", "flex_max", "flex_target"]) expect(serviceKeywordMap.get(name)!.status.kind, name).toBe("implemented");
    expect(serviceKeywordMap.get("monitor_action")!.status.kind).toBe("implemented");
  });
});
