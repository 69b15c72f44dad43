// Where each record lives on the lease device (4 KiB blocks, every record kept twice, A/B):
//   blocks 0-1                     the header (A/B)
//   blocks 2 + 2h, 3 + 2h          host h's delta-lease record
//   area(a) + 2h, area(a) + 2h + 1 host h's ballot block for the service in area a
// with area(a) = 2 + 2·maxHosts + a·2·maxHosts. Host ids and areas come from the header,
// never from an agent's config, so two configs that order nodes differently agree.

import { BLOCK } from "./records.js";

export const HEADER_BLOCK = 0;
export const HOSTS_BLOCK = 2;

export interface Geometry {
  maxHosts: number;
  maxServices: number;
}

export function hostBlock(host: number): number {
  return HOSTS_BLOCK + 2 * host;
}

export function areaBlock(g: Geometry, area: number): number {
  return HOSTS_BLOCK + 2 * g.maxHosts + area * 2 * g.maxHosts;
}

export function deviceBytes(g: Geometry): number {
  return areaBlock(g, g.maxServices) * BLOCK;
}

export const defaultGeometry: Geometry = { maxHosts: 8, maxServices: 64 };
