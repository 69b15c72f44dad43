// Keywords the ip drivers share (om3 drivers/resip, resiphost, resipnetns; opensvc
// drivers/resource/ip/__init__.py).

import { ignored, inert, kw, provisioningOnly, refused, whenOff } from "../keyword.js";

const clusterDns = ignored("svcc has no cluster DNS: name the address in your own DNS");

/** Why an address is never standby: up on every node it would be a duplicate address. */
export const ipStandby = "service addresses: an address up on every node is a duplicate address on the network";

export const ipKeywords = {
  name: kw.address("The address, or a DNS name resolved at start (and by the precheck).", { required: true, aliases: ["ipname"] }),
  dev: kw.ifname("Host interface.", { required: true, aliases: ["ipdev"] }),
  netmask: kw.netmask("Prefix length or dotted mask. Default: the prefix of an address already on the interface in the same subnet (or its first one), as om3."),
  network: kw.string("The address's network, for routes.", { status: provisioningOnly }),
  check_carrier: kw.bool("Refuse to start when the interface has no carrier.", { default: "true" }),
  alias: kw.bool("Stack the address on an interface alias (eth0:1).", {
    default: "true",
    status: ignored("svcc adds the address without an alias label, as OpenSVC recommends on modern ip stacks (alias=false)"),
    valueStatus: whenOff("what svcc does"),
  }),
  expose: kw.list("Socket services to publish as SRV records in the cluster DNS.", { status: clusterDns }),
  wait_dns: kw.duration("Wait until the cluster DNS serves the address.", { status: clusterDns }),
  dns_update: kw.bool("Register the address in the collector's DNS.", { status: clusterDns }),
  dns_name_suffix: kw.string("Suffix of the name registered in the DNS.", { status: clusterDns }),
  provisioner: kw.string("Address provisioner (the collector's ip allocator).", { status: provisioningOnly }),
  zone: kw.string("Solaris zone the address is plumbed into.", { status: refused("Solaris zones do not exist on Linux") }),
  gateway: kw.string("Gateway of the address.", { status: inert("used by OpenSVC only to provision zones") }),
} as const;
