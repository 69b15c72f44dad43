// Random names (the writer's temp files): read from the kernel's generator. node:crypto would
// do the same but brings some 16 internal modules, a measurable part of a one-service
// compile's start; it is the fallback where /dev/urandom cannot be read (a bare chroot).

import { closeSync, constants, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";

const requireBuiltin = createRequire(import.meta.url);

/** `bytes` random bytes (at most 256: one read), as hex. */
export function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  try {
    const fd = openSync("/dev/urandom", constants.O_RDONLY);
    try {
      if (readSync(fd, buffer, 0, bytes, null) === bytes) return buffer.toString("hex");
    } finally {
      closeSync(fd);
    }
  } catch {
    // no /dev/urandom: node:crypto below
  }
  return (requireBuiltin("node:crypto") as typeof import("node:crypto")).randomBytes(bytes).toString("hex");
}
