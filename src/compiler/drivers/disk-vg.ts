// disk type=vg: the volume group's host tag is the storage fence. Start drops other nodes'
// tags, adds this node's (%H, so one unit serves every node) and activates; stop deactivates
// and drops this node's tag (OpenSVC forgot that last step: its issue 240).

import { ignored, kw, provisioningOnly, whenOff } from "../keyword.js";
import { NODE_NAME } from "../model.js";
import { scsiReservationKeywords } from "../resource-keywords.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { defineDriver, resourceUnitName } from "./types.js";

/** `promote_rw`, shared by the disk drivers (om3 drivers/resdisk KWPromoteRW). */
export const promoteRw = kw.bool("Promote the resource's devices to read-write at start (replicated SAN LUNs).", {
  status: ignored("devices are not promoted to read-write: a read-only device makes the activation fail, visibly"),
  valueStatus: whenOff(),
});

export const diskVg = defineDriver({
  group: "disk",
  types: ["vg"],
  typeAliases: { lvm: "vg" },
  doc: "LVM volume group, fenced by host tags: start drops other nodes' tags, adds this node's, activates; stop deactivates and drops this node's tag.",
  source: "om3 drivers/resdiskvg/manifest.go, drivers/resdisk; opensvc drivers/resource/disk/vg/linux.py (`[vg#…]` sections, type `lvm`, keyword `vgname`)",
  keywords: {
    name: kw.string("Volume group name.", { required: true, static: true, aliases: ["vgname"] }),
    pvs: kw.list("Physical volumes the VG is created on.", { status: provisioningOnly }),
    options: kw.words("vgcreate options.", { status: provisioningOnly }),
    promote_rw: promoteRw,
    ...scsiReservationKeywords,
  },
  timeouts: { start: 60_000, stop: 60_000 },
  startRank: 2,
  build(resource, { service, svccBin }) {
    const vg = resource.values.name;
    const args = ["--vg", vg, "--node", NODE_NAME];
    const unit = serviceUnit(resourceUnitName(service, resource.rid), `volume group ${vg}, tagged for this node`, service, resource, {
      type: "oneshot",
      start: [[svccBin, "res", "vg-start", ...args]],
      stop: [[svccBin, "res", "vg-stop", ...args]],
      timeouts: timeoutsFor(resource, diskVg.timeouts),
      extra: [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]],
    });
    return single(unit, `vg ${vg}: tag @<node>, activate`);
  },
});
