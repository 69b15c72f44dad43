// systemd's object paths for units, as bus_label_escape() makes them: the agent's match rules
// for PropertiesChanged name these paths, so a wrong escape would silently watch nothing.

import { describe, expect, it } from "vitest";
import { unitObjectPath } from "../../src/fence/systemd-bus.js";

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
