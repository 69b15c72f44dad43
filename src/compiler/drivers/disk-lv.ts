// disk type=lv: activate and deactivate one logical volume.

import { kw, provisioningOnly } from "../keyword.js";
import { scsiReservationKeywords } from "../resource-keywords.js";
import { promoteRw } from "./disk-vg.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { defineDriver, resourceUnitName } from "./types.js";

export const diskLv = defineDriver({
  group: "disk",
  types: ["lv"],
  doc: "LVM logical volume: `lvchange -a y` on start, `-a n` on stop.",
  source: "om3 drivers/resdisklv/manifest.go, drivers/resdisk; opensvc drivers/resource/disk/lv",
  keywords: {
    name: kw.string("Logical volume name.", { required: true, static: true }),
    vg: kw.string("Volume group name.", { required: true, static: true }),
    size: kw.string("Size at creation.", { status: provisioningOnly }),
    create_options: kw.words("lvcreate options.", { status: provisioningOnly }),
    promote_rw: promoteRw,
    ...scsiReservationKeywords,
  },
  timeouts: { start: 30_000, stop: 30_000 },
  startRank: 2,
  build(resource, { service }) {
    const lv = `${resource.values.vg}/${resource.values.name}`;
    const unit = serviceUnit(resourceUnitName(service, resource.rid), `logical volume ${lv}`, service, resource, {
      type: "oneshot",
      start: [["lvchange", "-a", "y", lv]],
      stop: [["lvchange", "-a", "n", lv]],
      timeouts: timeoutsFor(resource, diskLv.timeouts),
      extra: [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]],
    });
    return single(unit, `lv ${lv}: lvchange -a y`);
  },
});
