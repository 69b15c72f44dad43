// disk type=vg: the volume group's host tag is the storage fence. Start drops other nodes'
// tags, adds this node's (%H, so one unit serves every node) and activates; stop deactivates
// and drops this node's tag (OpenSVC forgot that last step: its issue 240).

import { ignored, kw, provisioningOnly, whenOff } from "../keyword.js";
import { NODE_NAME } from "../model.js";
import { scsiReservationKeywords } from "../resource-keywords.js";
import { oneshotStep } from "./service-spec.js";
import { defineDriver, type ResourceUnits } from "./types.js";

/** `promote_rw`, shared by the disk drivers (om3 drivers/resdisk KWPromoteRW). */
export const promoteRw = kw.bool("Promote the resource's devices to read-write at start (replicated SAN LUNs).", {
  status: ignored("devices are not promoted to read-write: a read-only device makes the activation fail, visibly"),
  valueStatus: whenOff(),
});

/** What every disk driver takes (om3 drivers/resdisk BaseKeywords). */
export const diskKeywords = { promote_rw: promoteRw, ...scsiReservationKeywords } as const;

/** LVM commands run from a unit get file descriptors they did not open: say that is fine. */
export const lvmEnvironment: Array<[string, string]> = [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]];

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
    ...diskKeywords,
  },
  timeouts: { start: 60_000, stop: 60_000 },
  startRank: 2,
  build(resource, context): ResourceUnits {
    const vg = resource.values.name;
    const args = ["--vg", vg, "--node", NODE_NAME];
    return oneshotStep(context, resource, diskVg.timeouts, {
      description: `volume group ${vg}, tagged for this node`,
      summary: `vg ${vg}: tag @<node>, activate`,
      start: [context.svccBin, "res", "vg-start", ...args],
      stop: [context.svccBin, "res", "vg-stop", ...args],
      extra: lvmEnvironment,
    });
  },
});
