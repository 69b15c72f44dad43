// ip (host): a service address on a host interface, announced by gratuitous ARP.

import { oneshotStep } from "./service-spec.js";
import { standbyRefused } from "../resource-keywords.js";
import { ipKeywords, ipStandby } from "./ip-keywords.js";
import { defineDriver, type ResourceUnits } from "./types.js";

/** The runtime helper's flags for an address: --dev, --addr and, when set, --netmask. */
export function addressArguments(v: { dev: string; name: string; netmask?: string }): string[] {
  return ["--dev", v.dev, "--addr", v.name, ...(v.netmask !== undefined ? ["--netmask", v.netmask] : [])];
}

export const ipHost = defineDriver({
  group: "ip",
  types: ["host"],
  doc: "A service address on a host interface, announced by gratuitous ARP.",
  source: "om3 drivers/resiphost/manifest.go, drivers/resip; opensvc drivers/resource/ip/__init__.py",
  keywords: ipKeywords,
  timeouts: { start: 15_000, stop: 15_000 },
  startRank: 0,
  rules: (v) => (v.standby ? [standbyRefused(ipStandby)] : []),
  build(resource, context): ResourceUnits {
    const v = resource.values;
    const args = addressArguments(v);
    const where = `${v.name}${v.netmask !== undefined ? `/${v.netmask}` : ""} on ${v.dev}`;
    return oneshotStep(context, resource, ipHost.timeouts, {
      description: `address ${where}`,
      summary: `ip ${where}`,
      start: [context.svccBin, "res", "ip-start", ...args, ...(v.check_carrier ? ["--check-carrier"] : [])],
      stop: [context.svccBin, "res", "ip-stop", ...args],
    });
  },
});
