// What a driver is (one module per driver: its keywords, defaults, timeouts, start rank, docs
// and unit builder) and what every driver receives and returns.

import type { KeywordDecls, KeywordStatus, Value, ValuesOf } from "../keyword.js";
import type { ResolvedService } from "../model.js";
import type { GenericValues } from "../resource-keywords.js";
import type { Unit } from "../unit.js";

/** A resource of the service, with the typed values of its driver's keywords. */
export interface Resource<V = Readonly<Record<string, Value | undefined>>> {
  /** The section name, as OpenSVC names the resource: `app#web`, `vg#1`. */
  rid: string;
  /** The driver group (a legacy section name is mapped: `vg#1` is a disk). */
  group: string;
  /** What follows `#` in the rid. */
  index: string;
  /** The driver, normalised: OpenSVC's default when absent, legacy names mapped, `oci` → the cluster's engine. */
  type: string;
  values: V & GenericValues;
}

export interface DriverContext {
  service: ResolvedService;
  /** Absolute path of the svcc executable the units call for runtime steps (`svcc res ...`). */
  svccBin: string;
  /** Containers that an ip resource plumbs an address into (they default to --net=none). */
  plumbedContainers: ReadonlySet<string>;
  /** The service's private docker daemon (container_data_dir): its unit, and the client's -H value. */
  privateDocker?: { unit: string; host: string };
}

/** The engine's command words for a container: `docker -H <socket>` on a private daemon. */
export function engineCommand(engine: string, context: Pick<DriverContext, "privateDocker">): string[] {
  return engine === "docker" && context.privateDocker ? ["docker", "-H", context.privateDocker.host] : [engine];
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

export interface DriverSpec<D extends KeywordDecls = KeywordDecls> {
  group: string;
  /** Values of `type` this driver takes; legacy names are mapped by `typeAliases`. */
  types: readonly string[];
  /** Legacy type names OpenSVC still reads, and the type they mean (`lvm` → `vg`). */
  typeAliases?: Readonly<Record<string, string>>;
  doc: string;
  /** Where OpenSVC defines the driver's keywords and behaviour. */
  source: string;
  keywords: D;
  /** Default start and stop timeouts, in milliseconds. */
  timeouts: { start: number; stop: number };
  /** OpenSVC's start order of driver groups (om3 core/driver/group.go): lower starts first. */
  startRank: number;
  /** Checks between keywords (a status applied to one of them), beyond each keyword's own. */
  rules?(values: ValuesOf<D> & GenericValues): Array<{ key: string; status: KeywordStatus }>;
  build(resource: Resource<ValuesOf<D>>, context: DriverContext): ResourceUnits;
}

export function defineDriver<D extends KeywordDecls>(spec: DriverSpec<D>): DriverSpec<D> {
  return spec;
}

/** om3's container naming: `<namespace>..<name>.<group>.<index>`, no namespace prefix in root. */
export function containerName(service: ResolvedService, resource: { rid: string; values: Readonly<Record<string, unknown>> }): string {
  if (typeof resource.values.name === "string" && resource.values.name !== "") return resource.values.name;
  const prefix = service.namespace === "root" ? "" : `${service.namespace}..`;
  return `${prefix}${service.name}.${resource.rid.replace("#", ".")}`;
}

export function resourceUnitName(service: ResolvedService, rid: string): string {
  return `${service.name}-${rid.replace("#", "")}.service`;
}
