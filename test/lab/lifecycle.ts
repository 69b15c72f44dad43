// Bring-up and tear-down for a lab test file: root only, loud failure, nothing left behind.

import { expect } from "vitest";
import * as lab from "./lab.js";

const log = (m: string) => process.stderr.write(`lab: ${m}\n`);

export async function bringUpForTests(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the lab tests must run as root (CI does)");
  await lab.bringUp({ log });
}

export async function tearDownForTests(): Promise<void> {
  await lab.tearDown({ log });
  expect(lab.leftovers()).toEqual([]);
}
