// Where a generator's messages can go. On daemon-reload journald runs: its stream socket (the
// protocol systemd-cat speaks) takes them with the identifier svcc-generator. At boot the
// generator runs before journald: /dev/kmsg, which journald reads once it starts (as systemd's
// own generators do). A person running the generator by hand reads them on the terminal.

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { createConnection } from "node:net";

export const identifier = "svcc-generator";
export type Level = "error" | "warning" | "info";
const syslogLevel: Record<Level, number> = { error: 3, warning: 4, info: 6 };

export interface LogLine {
  level: Level;
  text: string;
}

export interface LogTargets {
  journalSocket: string;
  kmsg: string;
  stderr: NodeJS.WriteStream;
}

export const systemLogTargets = (): LogTargets => ({ journalSocket: "/run/systemd/journal/stdout", kmsg: "/dev/kmsg", stderr: process.stderr });

/** Sends the lines to the first target that takes them; returns which one did. */
export async function deliver(lines: LogLine[], targets: LogTargets): Promise<"journal" | "kmsg" | "stderr"> {
  if (lines.length === 0) return "stderr";
  if (!targets.stderr.isTTY) {
    if (targets.journalSocket && (await toJournal(lines, targets.journalSocket))) return "journal";
    if (targets.kmsg && toKmsg(lines, targets.kmsg)) return "kmsg";
  }
  for (const l of lines) targets.stderr.write(`${identifier}: ${l.level}: ${l.text}\n`);
  return "stderr";
}

function toJournal(lines: LogLine[], socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = createConnection(socket);
    const timer = setTimeout(() => {
      connection.destroy();
      resolve(false);
    }, 1000);
    connection.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    connection.on("connect", () => {
      // identifier, unit id, default priority, level prefix on, no forwarding to syslog/kmsg/console
      const header = `${identifier}\n\n6\n1\n0\n0\n0\n`;
      const body = lines.map((l) => `<${syslogLevel[l.level]}>${l.text}\n`).join("");
      connection.end(header + body, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  });
}

function toKmsg(lines: LogLine[], kmsg: string): boolean {
  let fd: number;
  try {
    // Never O_CREAT: where /dev/kmsg is missing (a container) that would make a regular file.
    fd = openSync(kmsg, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY);
  } catch {
    return false;
  }
  try {
    // One write is one record; the kernel truncates records near 1 KiB. Facility user (1 << 3).
    for (const l of lines) writeSync(fd, `<${8 + syslogLevel[l.level]}>${identifier}[${process.pid}]: ${l.text.slice(0, 900)}\n`);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
