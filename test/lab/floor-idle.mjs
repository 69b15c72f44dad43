// The floor of an idle agent's schedule on this machine (not a test: run by hand, as root):
//   node test/lab/floor-idle.mjs /dev/loopN [seconds]
// The device must be a scratch block device (its first 64 KiB are overwritten): never a lease
// device. Five bare Node.js processes run side by side for the same minute, each doing only
// the wakeups and I/O of one schedule and no other work:
//   timer-1s: a 1 s timer (the bench's baseline, idle_bare_node_1s_timer);
//   timer-2s: a 2 s timer;
//   renew:    every 2 s a timer, an 8 KiB O_DIRECT read, a 512-byte O_DSYNC write (a heartbeat);
//   holder:   renew + 450 ms later a timer (the holder's stop point);
//   standby:  renew + 1 s later a timer and an 8 KiB read (the standby's peek).
// What each costs (CPU-s a minute) is what the agent's schedule costs the machine before the
// agent's own JavaScript: docs/agent.md, "Idle cost".
import { spawn } from "node:child_process";
import { closeSync, constants, openSync, read, write } from "node:fs";
import { fileURLToPath } from "node:url";

const [mode, dev, secondsArg] = process.argv[2]?.startsWith("--mode=") ? [process.argv[2].slice(7), process.argv[3], process.argv[4]] : [undefined, process.argv[2], process.argv[3]];
const seconds = Number(secondsArg ?? 60);
const MODES = ["timer-1s", "timer-2s", "renew", "holder", "standby"];

if (!dev) {
  process.stderr.write("usage: node test/lab/floor-idle.mjs /dev/loopN [seconds]  (a scratch block device)\n");
  process.exit(2);
}

if (mode === undefined) {
  const self = fileURLToPath(import.meta.url);
  const results = await Promise.all(
    MODES.map(
      (m) =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, [self, `--mode=${m}`, dev, String(seconds)], { stdio: ["ignore", "pipe", "inherit"] });
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.on("exit", (code) => (code === 0 ? resolve([m, Number(out)]) : reject(new Error(`${m} exited ${code}`))));
        }),
    ),
  );
  for (const [m, cpu] of results) console.log(`${m.padEnd(9)} ${(cpu * (60 / seconds)).toFixed(4)} CPU-s/min`);
} else {
  // Aligned I/O for O_DIRECT: probe a larger buffer for an aligned window (as block-io.ts does).
  const fd = openSync(dev, constants.O_RDWR | constants.O_DIRECT | constants.O_DSYNC);
  const buffer = Buffer.allocUnsafeSlow(8192 + 4096);
  let window = -1;
  for (let off = 0; off < 4096 && window < 0; off += 16) {
    await new Promise((res) => read(fd, buffer, off, 8192, 0, (err) => (err ? res() : ((window = off), res()))));
  }
  if (window < 0) throw new Error(`${dev}: no aligned window for O_DIRECT`);
  const io = mode !== "timer-1s" && mode !== "timer-2s";
  const period = mode === "timer-1s" ? 1000 : 2000;
  const renew = () => {
    setTimeout(renew, period);
    if (io) read(fd, buffer, window, 8192, 0, () => write(fd, buffer, window, 512, 4096, () => undefined));
    if (mode === "holder") setTimeout(() => undefined, 450);
    if (mode === "standby") setTimeout(() => read(fd, buffer, window, 8192, 0, () => undefined), 1000);
  };
  setTimeout(renew, period);
  // A settling time, then the measured window.
  let start;
  setTimeout(() => (start = process.cpuUsage()), 5000);
  setTimeout(() => {
    const used = process.cpuUsage(start);
    closeSync(fd);
    process.stdout.write(String((used.user + used.system) / 1e6));
    process.exit(0);
  }, 5000 + seconds * 1000);
}
