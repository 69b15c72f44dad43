// The table of `svcc res` actions: for each, its flags (the contract with the units the
// compiler writes), how they are checked, which resource the journal lines name, and the
// module function that does the work.

import { accountName, containerName, dockerHost, fileMode, integerFlag, interfaceName, macAddress, mountPath, nodeName, oneOf, processId, serviceName, vgName, type FlagSpec, type Flags } from "./args.js";
import { addressFlag, ipLiteralFlag, prefixLength, resolveAddress } from "./address.js";
import { checkAddressFree, defaultProbeSettings } from "./arp.js";
import type { RuntimeContext } from "./context.js";
import { containerWait, type EngineClient, engines } from "./container.js";
import { exitCodes, UsageError } from "./errors.js";
import { defaultFsRelease, fsPrepare, fsRelease } from "./fs.js";
import { ipStart, ipStop, type HostAddress } from "./ip.js";
import { defaultAgentConfigPath, leaseGuard } from "./lease-guard.js";
import { vgStart, vgStatus, vgStop, type VgTarget } from "./lvm.js";
import { defaultStore, storeEnv } from "./store-env.js";
import { type ScsiTarget, scsiReserveStart, scsiReserveStop } from "./scsi-pr.js";
import { checkFlags, checkAction } from "./health-action.js";
import { netnsIpStart, netnsIpStop, netnsModes, type NetnsAddress, type NetnsOwner } from "./netns-ip.js";

export interface Action {
  synopsis: string;
  summary: string;
  flags: FlagSpec;
  /** What the journal lines name: the VG, the address, the mount point, the container. */
  resource(flags: Flags): string;
  run(flags: Flags, ctx: RuntimeContext): Promise<number>;
}

const str = { type: "string" } as const;
const many = { type: "string", multiple: true } as const;
const bool = { type: "boolean" } as const;

const vgFlags: FlagSpec = { vg: str, node: str };
const vgTarget = (f: Flags): VgTarget => ({ vg: vgName("vg", f.required("vg")), node: nodeName("node", f.required("node")) });

/** --key: a persistent reservation key, 1 to 16 hex digits (om3 validatePRKey); else derived from --node. */
function scsiTarget(f: Flags): ScsiTarget {
  const key = f.optional("key");
  if (key !== undefined && !/^(0x)?[0-9a-fA-F]{1,16}$/.test(key)) throw new UsageError(`--key ${JSON.stringify(key)}: expected 1 to 16 hex digits, optionally after 0x`);
  return { ...vgTarget(f), ...(key === undefined ? {} : { key }) };
}

const hostIpFlags: FlagSpec = { dev: str, addr: str, netmask: str, alias: bool, "check-carrier": bool };
async function hostAddress(f: Flags, ctx: RuntimeContext): Promise<HostAddress> {
  const dev = interfaceName("dev", f.required("dev"));
  const addr = addressFlag("addr", f.required("addr"));
  const netmask = f.optional("netmask");
  const address = await resolveAddress(addr, ctx.host);
  const prefix = netmask === undefined ? undefined : prefixLength("netmask", netmask, address.family);
  return { dev, address, prefix, checkCarrier: f.boolean("check-carrier") };
}

const netnsFlags: FlagSpec = {
  engine: str, host: str, container: str, pid: str, mode: str, dev: str, addr: str, netmask: str,
  gateway: str, nsdev: str, macaddr: str, "del-net-route": bool,
};

function netnsOwner(f: Flags): NetnsOwner {
  const pid = f.optional("pid");
  const container = f.optional("container");
  if (pid !== undefined) {
    if (container !== undefined || f.optional("engine") !== undefined || f.optional("host") !== undefined) throw new UsageError("--pid excludes --engine, --host and --container");
    return { pid: processId("pid", pid) };
  }
  if (container === undefined) throw new UsageError("--container (with --engine) or --pid is required");
  return { ...engineClient(f), container: containerName("container", container) };
}

/** --engine, and --host for a docker container on a service's private daemon. */
function engineClient(f: Flags): EngineClient {
  const engine = oneOf("engine", f.required("engine"), engines);
  const host = f.optional("host");
  return host === undefined ? { engine } : { engine, host: dockerHost("host", host, engine) };
}

/** Stop needs only the owner and the address; the other flags are still checked when given. */
async function netnsAddress(f: Flags, ctx: RuntimeContext, forStart: boolean): Promise<NetnsAddress> {
  const owner = netnsOwner(f);
  const mode = oneOf("mode", f.optional("mode") ?? "bridge", netnsModes);
  const devFlag = forStart ? f.required("dev") : f.optional("dev");
  const dev = devFlag === undefined ? "" : interfaceName("dev", devFlag);
  const addr = addressFlag("addr", f.required("addr"));
  const netmask = f.required("netmask");
  const gateway = f.optional("gateway");
  const nsdev = f.optional("nsdev");
  const macaddr = f.optional("macaddr");
  const spec = {
    owner, mode, dev,
    gateway: gateway === undefined ? undefined : ipLiteralFlag("gateway", gateway),
    nsdev: nsdev === undefined ? undefined : interfaceName("nsdev", nsdev),
    macaddr: macaddr === undefined ? undefined : macAddress("macaddr", macaddr),
    delNetRoute: f.boolean("del-net-route"),
  };
  const address = await resolveAddress(addr, ctx.host);
  return { ...spec, address, prefix: prefixLength("netmask", netmask, address.family) };
}

const netnsSynopsis = "(--engine docker|podman [--host unix://SOCKET] --container NAME | --pid PID) --mode bridge|macvlan|ipvlan-l2|ipvlan-l3 --dev DEV --addr A --netmask N [--gateway G] [--nsdev IFNAME] [--macaddr MAC] [--del-net-route]";

/** SVCC_TOKEN from the lease file the units read; a malformed one is an error, never "no token". */
function tokenFromEnvironment(): number | undefined {
  const raw = process.env.SVCC_TOKEN;
  if (raw === undefined || raw === "") return undefined;
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw new UsageError(`SVCC_TOKEN is not a token: ${JSON.stringify(raw)}`);
  return Number(raw);
}

export const actions: Record<string, Action> = {
  "lease-guard": {
    synopsis: "--service NAME [--agent-config FILE]",
    summary: "when an svcc agent manages the service here, exit 1 unless this node holds its lease now",
    flags: { service: str, "agent-config": str },
    resource: (f) => f.optional("service") ?? "",
    run: (f, ctx) => leaseGuard(ctx, serviceName("service", f.required("service")), { agentConfig: f.optional("agent-config") ?? defaultAgentConfigPath }),
  },
  "vg-start": {
    synopsis: "--vg NAME --node NODE",
    summary: "check that LVM's config makes the tag fence, refuse a newer token tag than SVCC_TOKEN, drop every other host tag, tag it @NODE (and the token), activate it",
    flags: vgFlags,
    resource: (f) => f.optional("vg") ?? "",
    run: (f, ctx) => vgStart(ctx, vgTarget(f), { token: tokenFromEnvironment() }),
  },
  "vg-stop": {
    synopsis: "--vg NAME --node NODE",
    summary: "deactivate the VG (3 attempts), then drop @NODE; the tag stays if deactivation fails",
    flags: vgFlags,
    resource: (f) => f.optional("vg") ?? "",
    run: (f, ctx) => vgStop(ctx, vgTarget(f)),
  },
  "vg-status": {
    synopsis: "--vg NAME --node NODE",
    summary: "print the VG's tags; exit 0 when it carries exactly @NODE, 1 otherwise",
    flags: vgFlags,
    resource: (f) => f.optional("vg") ?? "",
    run: (f, ctx) => vgStatus(ctx, vgTarget(f)),
  },
  "ip-check-free": {
    synopsis: "--dev DEV --addr A [--addr B ...] [--probes N] [--interval-ms MS]",
    summary: "ARP duplicate address detection: exit 0 when no address answers, 1 when one does, 3 when it cannot tell",
    flags: { dev: str, addr: many, probes: str, "interval-ms": str },
    resource: (f) => f.all("addr").join(","),
    async run(f, ctx) {
      const dev = interfaceName("dev", f.required("dev"));
      const addrs = f.all("addr").map((a) => addressFlag("addr", a));
      if (addrs.length === 0) throw new UsageError("--addr is required");
      const settings = {
        probes: integerFlag(f, "probes", defaultProbeSettings.probes, 1, 20),
        intervalMs: integerFlag(f, "interval-ms", defaultProbeSettings.intervalMs, 10, 2_000),
      };
      const started = ctx.clock.now();
      const addresses = await Promise.all(addrs.map((a) => resolveAddress(a, ctx.host)));
      const verdicts = await Promise.all(
        addresses.map((a) => {
          if (a.family === 6) {
            ctx.log.info(`${a.address}: not probed (ARP is IPv4's; the kernel's duplicate address detection checks IPv6 addresses when they are added)`);
            return { address: a.address, state: "free" as const, probes: 0 };
          }
          return checkAddressFree(ctx, dev, a.address, settings);
        }),
      );
      const elapsed = Math.round(ctx.clock.now() - started);
      let code: number = exitCodes.ok;
      for (const v of verdicts) {
        if (v.state === "in-use") {
          ctx.log.info(`${v.address} is already in use on the network of ${dev}${v.mac ? ` (answered by ${v.mac})` : ""}: another node, or a foreign host, holds it; not starting`);
          code = exitCodes.failed;
        } else if (v.state === "unknown") {
          ctx.log.info(`cannot tell whether ${v.address} is free on ${dev}: ${v.reason}`);
          if (code === exitCodes.ok) code = exitCodes.unknown;
        }
      }
      if (code === exitCodes.ok) ctx.log.info(`free: no answer to ${settings.probes} probe(s) ${settings.intervalMs} ms apart on ${dev} (${elapsed} ms)`);
      return code;
    },
  },
  "ip-start": {
    synopsis: "--dev DEV --addr A [--netmask N] [--check-carrier] [--alias]",
    summary: "add A/N to DEV (already there: ok), then send a gratuitous ARP; N defaults to the prefix of an address already on DEV; --check-carrier: refuse when DEV has no carrier",
    flags: hostIpFlags,
    resource: (f) => f.optional("addr") ?? "",
    run: async (f, ctx) => ipStart(ctx, await hostAddress(f, ctx)),
  },
  "ip-stop": {
    synopsis: "--dev DEV --addr A [--netmask N] [--alias]",
    summary: "remove A/N from DEV (absent: ok); N defaults to the prefix A has on DEV",
    flags: hostIpFlags,
    resource: (f) => f.optional("addr") ?? "",
    run: async (f, ctx) => ipStop(ctx, await hostAddress(f, ctx)),
  },
  "netns-ip-start": {
    synopsis: netnsSynopsis,
    summary: "plumb A/N into the container's network namespace on an interface made on DEV",
    flags: netnsFlags,
    resource: (f) => f.optional("addr") ?? "",
    run: async (f, ctx) => netnsIpStart(ctx, await netnsAddress(f, ctx, true)),
  },
  "netns-ip-stop": {
    synopsis: netnsSynopsis,
    summary: "delete the interface carrying A in the container's namespace (container gone: ok)",
    flags: netnsFlags,
    resource: (f) => f.optional("addr") ?? "",
    run: async (f, ctx) => netnsIpStop(ctx, await netnsAddress(f, ctx, false)),
  },
  "fs-prepare": {
    synopsis: "--mnt PATH [--user U] [--group G] [--perm MODE]",
    summary: "set the owner, group and mode of the mounted filesystem's root",
    flags: { mnt: str, user: str, group: str, perm: str },
    resource: (f) => f.optional("mnt") ?? "",
    run(f, ctx) {
      const user = f.optional("user");
      const group = f.optional("group");
      const perm = f.optional("perm");
      return fsPrepare(ctx, {
        mnt: mountPath("mnt", f.required("mnt")),
        user: user === undefined ? undefined : accountName("user", user),
        group: group === undefined ? undefined : accountName("group", group),
        perm: perm === undefined ? undefined : fileMode("perm", perm),
      });
    },
  },
  "fs-release": {
    synopsis: "--mnt PATH [--rounds N] [--wait-ms MS]",
    summary: "kill the mount's users (fuser -kmM: SIGTERM, then SIGKILL), exit 0 once nobody uses it",
    flags: { mnt: str, rounds: str, "wait-ms": str },
    resource: (f) => f.optional("mnt") ?? "",
    run: (f, ctx) =>
      fsRelease(ctx, {
        mnt: mountPath("mnt", f.required("mnt")),
        rounds: integerFlag(f, "rounds", defaultFsRelease.rounds, 1, 20),
        waitMs: integerFlag(f, "wait-ms", defaultFsRelease.waitMs, 0, 60_000),
      }),
  },
  "scsi-reserve-start": {
    synopsis: "--vg NAME --node NODE [--key 0xHEX] [--no-preempt-abort]",
    summary: "SCSI-3 persistent reservation of the VG's disks: register the key on every path, reserve (type 5); a foreign reservation is preempted only under the agent's lease (SVCC_TOKEN)",
    flags: { ...vgFlags, key: str, "no-preempt-abort": bool },
    resource: (f) => f.optional("vg") ?? "",
    run: (f, ctx) => scsiReserveStart(ctx, { ...scsiTarget(f), noPreemptAbort: f.boolean("no-preempt-abort"), token: tokenFromEnvironment() }),
  },
  "scsi-reserve-stop": {
    synopsis: "--vg NAME --node NODE [--key 0xHEX]",
    summary: "release the VG's disks' reservation and unregister the key from every path",
    flags: { ...vgFlags, key: str },
    resource: (f) => f.optional("vg") ?? "",
    run: (f, ctx) => scsiReserveStop(ctx, scsiTarget(f)),
  },
  "store-env": {
    synopsis: "--namespace NS [--cfg ITEM ...] [--sec ITEM ...] --out DIR [--store DIR]",
    summary: "read configs_environment (--cfg) and secrets_environment (--sec) items from svcc's store (DIR/cfg|sec/NS/<object>/<key>, default /etc/svcc) into DIR/env and DIR/names",
    flags: { namespace: str, cfg: many, sec: many, out: str, store: str },
    resource: (f) => f.optional("out") ?? "",
    run: (f, ctx) =>
      storeEnv(ctx, {
        store: mountPath("store", f.optional("store") ?? defaultStore),
        namespace: serviceName("namespace", f.required("namespace")),
        items: [...f.all("cfg").map((item) => ({ kind: "cfg" as const, item })), ...f.all("sec").map((item) => ({ kind: "sec" as const, item }))],
        outDir: mountPath("out", f.required("out")),
      }),
  },
  "container-wait": {
    synopsis: "--engine docker|podman [--host unix://SOCKET] --name NAME [--timeout-ms MS] [--run-pid PID]",
    summary: "wait (bounded) until the container runs; exit 1 with its state when it exited, its run command (--run-pid) is gone, or the time is up",
    flags: { engine: str, host: str, name: str, "timeout-ms": str, "run-pid": str },
    resource: (f) => f.optional("name") ?? "",
    run: (f, ctx) =>
      containerWait(ctx, {
        ...engineClient(f),
        name: containerName("name", f.required("name")),
        timeoutMs: integerFlag(f, "timeout-ms", 5_000, 1, 3_600_000),
        runPid: integerFlag(f, "run-pid", 0, 0, 4_194_304) || undefined,
      }),
  },
  check: {
    synopsis: "--service SVC --node NODE [--vg RID=VG] [--lv RID=VG/LV] [--fs RID=MNT] [--ip RID=ADDR@DEV] [--netns-ip RID=ADDR@ENGINE:CONTAINER] [--container RID=ENGINE:NAME] [--app RID=JSON] [--timeout-ms MS] [--state-dir DIR]",
    summary: "health checks of a running service's resources, in parallel, each bounded; writes DIR/SVC.check.json (default /run/svcc); exit 1 when any failed",
    flags: checkFlags,
    resource: (f) => f.optional("service") ?? "",
    run: checkAction,
  },
};
