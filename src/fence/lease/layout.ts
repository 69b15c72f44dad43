// Where each record lives on the lease device (byte offsets; every record kept twice, A/B):
//   0, 4096                    the header (A/B), 4 KiB each
//   8192 + 2h·S, + S            host h's delta-lease record
//   area(a) + 2h·S, + S         host h's ballot block for the service in area a
// with S the device's sector size (512, or 4096 on 4Kn disks; probed at init, kept in the
// header) and area(a) = 8192 + 2·maxHosts·S + a·2·maxHosts·S. One record per sector: its write
// is atomic on real disks. After the service areas, one config area per service (`svcc
// deploy`): each host's config ballot block (A/B), then each host's two config body slots
//   configArea(a) = deviceBytes + a·(2·maxHosts·S + 2·nodes·BODY)
// so a device holds its configs only if it is large enough (the lab's 1 MiB holds three).
// Host ids and areas come from the header, never from an agent's
// config, so two configs that order nodes differently agree.

export const HEADER_BYTES = 4096;
export const HEADERS_BYTES = 2 * HEADER_BYTES;

export interface Geometry {
  maxHosts: number;
  maxServices: number;
  /** The device's logical sector size: 512 or 4096. */
  sectorSize: number;
}

export function hostOffset(g: Geometry, host: number): number {
  return HEADERS_BYTES + 2 * host * g.sectorSize;
}

export function areaOffset(g: Geometry, area: number): number {
  return HEADERS_BYTES + 2 * g.maxHosts * g.sectorSize + area * 2 * g.maxHosts * g.sectorSize;
}

export function deviceBytes(g: Geometry): number {
  return areaOffset(g, g.maxServices);
}

export const defaultGeometry: Omit<Geometry, "sectorSize"> = { maxHosts: 8, maxServices: 64 };

/** One config body slot: a header line and the config text (CONFIG_TEXT_LIMIT). */
export const CONFIG_BODY_BYTES = 32 * 1024;

export function configAreaBytes(g: Geometry, nodes: number): number {
  return 2 * g.maxHosts * g.sectorSize + 2 * nodes * CONFIG_BODY_BYTES;
}

/** The config area of the service in area a: its ballot blocks first, then the body slots. */
export function configOffset(g: Geometry, nodes: number, area: number): number {
  return deviceBytes(g) + area * configAreaBytes(g, nodes);
}

export function configBodyOffset(g: Geometry, nodes: number, area: number, host: number, slot: 0 | 1): number {
  return configOffset(g, nodes, area) + 2 * g.maxHosts * g.sectorSize + (2 * host + slot) * CONFIG_BODY_BYTES;
}
