// One in-memory lease disk seen by several nodes, any of which can be cut off from it.

import { MemorySlotDisk, type SlotDisk } from "../../src/fence/lease/shared-disk.js";

export function sharedMemoryDisk() {
  const disk = new MemorySlotDisk();
  const cut = new Set<string>();
  const guard = (node: string) => {
    if (cut.has(node)) throw new Error("lease disk unreachable");
  };
  const diskFor = (node: string): SlotDisk => ({
    readSlot: (i) => (guard(node), disk.readSlot(i)),
    writeSlot: (i, b) => (guard(node), disk.writeSlot(i, b)),
    close: () => {},
  });
  return { disk, cut, diskFor };
}
