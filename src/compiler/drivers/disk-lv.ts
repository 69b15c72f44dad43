// disk type=lv: activate and deactivate one logical volume.

import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { type Driver, resourceUnitName } from "./types.js";

export const diskLv: Driver = (resource, { service }) => {
  const lv = `${resource.values.get("vg")}/${resource.values.get("name")}`;
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `logical volume ${lv}`, service, resource, {
    type: "oneshot",
    start: [["lvchange", "-a", "y", lv]],
    stop: [["lvchange", "-a", "n", lv]],
    timeouts: timeoutsFor(resource, "lv"),
    extra: [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]],
  });
  return single(unit, `lv ${lv}: lvchange -a y`);
};
