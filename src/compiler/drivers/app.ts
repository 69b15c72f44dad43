// app type=simple|forking: commands run by /bin/sh under systemd.

import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { type Driver, resourceUnitName } from "./types.js";

export const app: Driver = (resource, { service }) => {
  const v = resource.values;
  const extra: Array<[string, string]> = [];
  if (v.has("user")) extra.push(["User", String(v.get("user"))]);
  if (v.has("cwd")) extra.push(["WorkingDirectory", String(v.get("cwd"))]);
  if (v.has("check")) extra.push(["X-Svcc-Check", JSON.stringify(String(v.get("check")))]); // read by the agent, never by systemd
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `${resource.type} application`, service, resource, {
    type: resource.type === "forking" ? "forking" : "exec",
    start: [["/bin/sh", "-c", String(v.get("start"))]],
    stop: v.has("stop") ? [["/bin/sh", "-c", String(v.get("stop"))]] : [],
    timeouts: timeoutsFor(resource, "app"),
    extra,
  });
  return single(unit, `app (${resource.type})`);
};
