// ip type=netns: the service address plumbed into a container's network namespace. The
// namespace only exists once the container runs, so the runtime helper finds it at start.

import { ignored, kw } from "../keyword.js";
import { oneshotStep } from "./service-spec.js";
import { addressArguments } from "./ip-host.js";
import { standbyRefused } from "../resource-keywords.js";
import { ipKeywords, ipStandby } from "./ip-keywords.js";
import { containerName, defineDriver, type ResourceUnits } from "./types.js";

const ovsOnly = ignored("only used with mode=ovs, which svcc refuses");

export const ipNetns = defineDriver({
  group: "ip",
  types: ["netns"],
  typeAliases: { docker: "netns" },
  doc: "A service address plumbed into a container's network namespace; started right after its container, stopped right before it.",
  source: "om3 drivers/resipnetns/manifest.go; opensvc drivers/resource/ip/netns (type `docker`, keyword `container_rid`)",
  keywords: {
    ...ipKeywords,
    dev: kw.ifname("Host interface (the bridge in bridge mode).", { required: true, aliases: ["ipdev"] }),
    netmask: kw.netmask("Prefix length or dotted mask.", { required: true }),
    gateway: kw.ip("Default route inside the netns; must lie in the address's subnet."),
    netns: kw.rid("The container resource whose netns receives the address (container#…).", { required: true, static: true, aliases: ["container_rid"] }),
    mode: kw.enum(["bridge", "dedicated", "macvlan", "ipvlan-l2", "ipvlan-l3", "ipvlan-l3s", "ovs"], "How the interface is made on dev.", {
      default: "bridge",
      static: true,
      valueStatus: {
        dedicated: { kind: "refused", why: "mode=dedicated (moving a physical NIC into the container) is not supported: use bridge, macvlan, ipvlan-l2 or ipvlan-l3" },
        "ipvlan-l3s": { kind: "refused", why: "mode=ipvlan-l3s is not supported: use bridge, macvlan, ipvlan-l2 or ipvlan-l3" },
        ovs: { kind: "refused", why: "mode=ovs (Open vSwitch) is not supported: use bridge, macvlan, ipvlan-l2 or ipvlan-l3" },
      },
    }),
    nsdev: kw.ifname("Interface name inside the netns (default: the first free ethN)."),
    macaddr: kw.mac("MAC address of the interface."),
    del_net_route: kw.bool("Delete the subnet route inside the netns.", { default: "false" }),
    vlan_tag: kw.string("VLAN tag of an ovs port.", { status: ovsOnly }),
    vlan_mode: kw.string("VLAN mode of an ovs port.", { status: ovsOnly }),
  },
  timeouts: { start: 15_000, stop: 15_000 },
  startRank: 0,
  rules: (v) => (v.standby ? [standbyRefused(ipStandby)] : []),
  build(resource, { service, svccBin, privateDocker }): ResourceUnits {
    const v = resource.values;
    const target = service.resources.find((r) => r.rid === v.netns)!;
    const host = target.type === "docker" && privateDocker ? ["--host", privateDocker.host] : [];
    const args = ["--engine", target.type, ...host, "--container", containerName(service, target), "--mode", v.mode, ...addressArguments(v)];
    if (v.gateway !== undefined) args.push("--gateway", v.gateway);
    if (v.nsdev !== undefined) args.push("--nsdev", v.nsdev);
    if (v.macaddr !== undefined) args.push("--macaddr", v.macaddr);
    if (v.del_net_route) args.push("--del-net-route");
    const what = `${v.name}/${v.netmask} in ${v.netns}'s netns (${v.mode} on ${v.dev})`;
    return oneshotStep({ service }, resource, ipNetns.timeouts, {
      description: `address ${what}`,
      summary: `ip ${what}`,
      start: [svccBin, "res", "netns-ip-start", ...args],
      stop: [svccBin, "res", "netns-ip-stop", ...args],
    });
  },
});
