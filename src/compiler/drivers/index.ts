// group/type → driver.

import { app } from "./app.js";
import { container } from "./container.js";
import { diskLv } from "./disk-lv.js";
import { diskVg } from "./disk-vg.js";
import { fs } from "./fs.js";
import { ipHost } from "./ip-host.js";
import { ipNetns } from "./ip-netns.js";
import type { Driver } from "./types.js";

export function driverFor(group: string, type: string): Driver {
  if (group === "disk") return type === "vg" ? diskVg : diskLv;
  if (group === "fs") return fs;
  if (group === "ip") return type === "netns" ? ipNetns : ipHost;
  if (group === "container") return container;
  if (group === "app") return app;
  throw new Error(`internal: no driver for ${group} type=${type}`);
}
