// disk type=vg: the volume group's host tag is the storage fence. Start drops other nodes'
// tags, adds this node's (%H, so one unit serves every node) and activates; stop deactivates
// and drops this node's tag (OpenSVC forgot that last step: its issue 240).

import { NODE_NAME } from "../model.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { type Driver, resourceUnitName } from "./types.js";

export const diskVg: Driver = (resource, { service, svccBin }) => {
  const vg = String(resource.values.get("name"));
  const args = ["--vg", vg, "--node", NODE_NAME];
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `volume group ${vg}, tagged for this node`, service, resource, {
    type: "oneshot",
    start: [[svccBin, "res", "vg-start", ...args]],
    stop: [[svccBin, "res", "vg-stop", ...args]],
    timeouts: timeoutsFor(resource, "vg"),
    extra: [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]],
  });
  return single(unit, `vg ${vg}: tag @<node>, activate`);
};
