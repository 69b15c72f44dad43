// What every driver receives and returns.

import type { ResolvedResource, ResolvedService } from "../model.js";
import type { Unit } from "../unit.js";

export interface DriverContext {
  service: ResolvedService;
  /** Absolute path of the svcc executable the units call for runtime steps (`svcc res ...`). */
  svccBin: string;
  /** Containers that an ip resource plumbs an address into (they default to --net=none). */
  plumbedContainers: ReadonlySet<string>;
}

export interface ResourceUnits {
  units: Unit[];
  /** Started first: carries the dependencies on the resource before it. */
  first: Unit;
  /** Up last: what the resources after it depend on. */
  last: Unit;
  /** The service that carries triggers, restarts and the environment (fs: its companion service). */
  main: Unit;
  /** One line for `svcc plan`. */
  summary: string;
}

export type Driver = (resource: ResolvedResource, context: DriverContext) => ResourceUnits;

export function containerName(service: ResolvedService, rid: string): string {
  return `${service.name}.container.${rid.split("#")[1]}`;
}

export function resourceUnitName(service: ResolvedService, rid: string): string {
  return `${service.name}-${rid.replace("#", "")}.service`;
}
