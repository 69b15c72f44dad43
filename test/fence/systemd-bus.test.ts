// systemd's object paths for units, as bus_label_escape() makes them: the agent's match rules
// for PropertiesChanged name these paths, so a wrong escape would silently watch nothing.

import { describe, expect, it } from "vitest";
import { matchRules, unitObjectPath } from "../../src/fence/systemd-bus.js";

describe("unitObjectPath", () => {
  it("escapes every byte outside [A-Za-z0-9] as _xx, and a leading digit", () => {
    expect(unitObjectPath("dbus.service")).toBe("/org/freedesktop/systemd1/unit/dbus_2eservice");
    expect(unitObjectPath("db1-container1.service")).toBe("/org/freedesktop/systemd1/unit/db1_2dcontainer1_2eservice");
    expect(unitObjectPath("srv-db1-data.mount")).toBe("/org/freedesktop/systemd1/unit/srv_2ddb1_2ddata_2emount");
    expect(unitObjectPath("1x.target")).toBe("/org/freedesktop/systemd1/unit/_31x_2etarget");
    expect(unitObjectPath("a_b\\x2d.service")).toBe("/org/freedesktop/systemd1/unit/a_5fb_5cx2d_2eservice");
    expect(unitObjectPath("é.service")).toBe("/org/freedesktop/systemd1/unit/_c3_a9_2eservice");
  });
});

describe("matchRules", () => {
  it("asks for every job's start and end, and only the Unit interface's changes of the watched units", () => {
    const rules = matchRules([unitObjectPath("db1.target"), unitObjectPath("db1-check.service")]);
    expect(rules.filter((r) => r.includes("member='JobRemoved'") || r.includes("member='JobNew'"))).toHaveLength(2);
    for (const r of rules.filter((x) => x.includes("JobRemoved") || x.includes("JobNew"))) expect(r).not.toContain("path=");
    const changes = rules.filter((r) => r.includes("member='PropertiesChanged'"));
    expect(changes).toEqual([
      "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='/org/freedesktop/systemd1/unit/db1_2etarget',arg0='org.freedesktop.systemd1.Unit'",
      "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='/org/freedesktop/systemd1/unit/db1_2dcheck_2eservice',arg0='org.freedesktop.systemd1.Unit'",
    ]);
  });
});
