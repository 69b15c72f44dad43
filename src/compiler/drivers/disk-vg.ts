// disk type=vg: the volume group's host tag is the storage fence. Start drops other nodes'
// tags, adds this node's (%H, so one unit serves every node) and activates; stop deactivates
// and drops this node's tag (OpenSVC forgot that last step: its issue 240).

import { ignored, type KeywordStatus, kw, provisioningOnly, refused, whenOff } from "../keyword.js";
import { NODE_NAME } from "../model.js";
import { scsiReservationKeywords, standbyRefused } from "../resource-keywords.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { defineDriver, type ResourceUnits, resourceUnitName } from "./types.js";

/** `promote_rw`, shared by the disk drivers (om3 drivers/resdisk KWPromoteRW). */
export const promoteRw = kw.bool("Promote the resource's devices to read-write at start (replicated SAN LUNs).", {
  status: ignored("devices are not promoted to read-write: a read-only device makes the activation fail, visibly"),
  valueStatus: whenOff(),
});

/** What every disk driver takes (om3 drivers/resdisk BaseKeywords). */
export const diskKeywords = { promote_rw: promoteRw, ...scsiReservationKeywords } as const;

/** Why a disk is never standby: its activation on this node is the storage fence. */
export const diskStandby = "disks: activating a volume group or volume on every node would undo the fence its host tag is";

/** LVM commands run from a unit get file descriptors they did not open: say that is fine. */
export const lvmEnvironment: Array<[string, string]> = [["Environment", "LVM_SUPPRESS_FD_WARNINGS=1"]];

/**
 * SCSI-3 persistent reservations on the VG's disks (om3 manifest.SCSIPersistentReservationKeywords,
 * util/scsi): implemented here, where the disks are known (the VG's physical volumes).
 */
const vgScsiReservationKeywords = {
  scsireserv: kw.bool(
    "SCSI-3 persistent reservation of the VG's disks (`svcc res scsi-reserve-start`): before activation every path of every physical volume registers the node's key and one reserves the disk (type 5, write exclusive registrants only); after deactivation it is released and the key unregistered. A disk reserved by another key is preempted only under the svcc agent's lease, else the start is refused (om3 refuses it without --force).",
    { default: "false", static: true },
  ),
  prkey: kw.string("The node's reservation key, 1 to 16 hex digits (may differ per node: `prkey@node1`). Default: derived from the node name (om3: the node's node.prkey)."),
  no_preempt_abort: kw.bool("Preempt a foreign reservation without aborting its queued I/O (om3: for arrays that mishandle PREEMPT AND ABORT).", { default: "false", static: true }),
} as const;

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
    ...vgScsiReservationKeywords,
  },
  timeouts: { start: 60_000, stop: 60_000 },
  startRank: 2,
  rules(v) {
    const problems: Array<{ key: string; status: KeywordStatus }> = [];
    if (v.standby) problems.push(standbyRefused(diskStandby));
    if (v.prkey !== undefined && !/^(0x)?[0-9a-fA-F]{1,16}$/.test(v.prkey) && !v.prkey.includes("\u0001")) {
      problems.push({ key: "prkey", status: refused(`"${v.prkey}" is not a reservation key: 1 to 16 hex digits, optionally after 0x (om3 validatePRKey)`) });
    }
    return problems;
  },
  build(resource, context): ResourceUnits {
    const v = resource.values;
    const vg = v.name;
    const args = ["--vg", vg, "--node", NODE_NAME];
    const { svccBin, service } = context;
    // The reservation is taken before the activation and dropped after the deactivation (a
    // failed deactivation stops the ExecStop= lines there: the disks stay reserved).
    const pr = v.scsireserv ? [...args, ...(v.prkey !== undefined ? ["--key", v.prkey] : [])] : undefined;
    const unit = serviceUnit(resourceUnitName(service, resource.rid), `volume group ${vg}, tagged for this node${pr ? ", its disks reserved (SCSI-3 PR)" : ""}`, service, resource, {
      type: "oneshot",
      start: [...(pr ? [[svccBin, "res", "scsi-reserve-start", ...pr, ...(v.no_preempt_abort ? ["--no-preempt-abort"] : [])]] : []), [svccBin, "res", "vg-start", ...args]],
      stop: [[svccBin, "res", "vg-stop", ...args], ...(pr ? [[svccBin, "res", "scsi-reserve-stop", ...pr]] : [])],
      timeouts: timeoutsFor(resource, diskVg.timeouts),
      extra: lvmEnvironment,
    });
    return single(unit, `vg ${vg}: ${pr ? "reserve its disks, " : ""}tag @<node>, activate`);
  },
});
