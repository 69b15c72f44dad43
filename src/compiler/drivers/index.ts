// A resource → its units, by the driver its section names. The resolver built the resource's
// values from that driver's own keyword table, which is what makes them the driver's typed
// values: the one place where that is asserted.

import { driverFor } from "../keywords.js";
import type { ResolvedResource } from "../model.js";
import type { DriverContext, Resource, ResourceUnits } from "./types.js";

export function buildUnits(resource: ResolvedResource, context: DriverContext): ResourceUnits {
  const spec = driverFor(resource.group, resource.type);
  if (!spec) throw new Error(`internal: no driver for ${resource.group} type=${resource.type}`);
  return spec.build(resource as Resource<never>, context);
}
