// ip (host): a service address on a host interface, announced by gratuitous ARP.

import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { type Driver, resourceUnitName } from "./types.js";

export const ipHost: Driver = (resource, { service, svccBin }) => {
  const v = resource.values;
  const args = ["--dev", String(v.get("ipdev")), "--addr", String(v.get("ipname")), "--netmask", String(v.get("netmask"))];
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `address ${v.get("ipname")}/${v.get("netmask")} on ${v.get("ipdev")}`, service, resource, {
    type: "oneshot",
    start: [[svccBin, "res", "ip-start", ...args]],
    stop: [[svccBin, "res", "ip-stop", ...args]],
    timeouts: timeoutsFor(resource, "ip"),
  });
  return single(unit, `ip ${v.get("ipname")}/${v.get("netmask")} on ${v.get("ipdev")}`);
};
