// ip type=netns: the service address plumbed into a container's network namespace. The
// namespace only exists once the container runs, so the runtime helper finds it at start.

import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { containerName, type Driver, resourceUnitName } from "./types.js";

export const ipNetns: Driver = (resource, { service, svccBin }) => {
  const v = resource.values;
  const target = String(v.get("netns"));
  const engine = service.resources.find((r) => r.rid === target)!.type;
  const args = [
    "--engine", engine,
    "--container", containerName(service, target),
    "--mode", String(v.get("mode")),
    "--dev", String(v.get("ipdev")),
    "--addr", String(v.get("ipname")),
    "--netmask", String(v.get("netmask")),
  ];
  if (v.has("gateway")) args.push("--gateway", String(v.get("gateway")));
  if (v.has("nsdev")) args.push("--nsdev", String(v.get("nsdev")));
  if (v.has("macaddr")) args.push("--macaddr", String(v.get("macaddr")));
  if (v.get("del_net_route") === true) args.push("--del-net-route");
  const what = `${v.get("ipname")}/${v.get("netmask")} in ${target}'s netns (${v.get("mode")} on ${v.get("ipdev")})`;
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `address ${what}`, service, resource, {
    type: "oneshot",
    start: [[svccBin, "res", "netns-ip-start", ...args]],
    stop: [[svccBin, "res", "netns-ip-stop", ...args]],
    timeouts: timeoutsFor(resource, "ip"),
  });
  return single(unit, `ip ${what}`);
};
