// disk type=lv: activate and deactivate one logical volume.

import { kw, provisioningOnly } from "../keyword.js";
import { standbyRefused } from "../resource-keywords.js";
import { diskKeywords, diskStandby, lvmEnvironment } from "./disk-vg.js";
import { oneshotStep } from "./service-spec.js";
import { defineDriver, type ResourceUnits } from "./types.js";

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
    ...diskKeywords,
  },
  timeouts: { start: 30_000, stop: 30_000 },
  startRank: 2,
  rules: (v) => (v.standby ? [standbyRefused(diskStandby)] : []),
  build(resource, context): ResourceUnits {
    const lv = `${resource.values.vg}/${resource.values.name}`;
    return oneshotStep(context, resource, diskLv.timeouts, {
      description: `logical volume ${lv}`,
      summary: `lv ${lv}: lvchange -a y`,
      start: ["lvchange", "-a", "y", lv],
      stop: ["lvchange", "-a", "n", lv],
      extra: lvmEnvironment,
    });
  },
});
