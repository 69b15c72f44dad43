// The client-side timer of `npm run bench:peers`, run in the lab's client namespace:
//   ip netns exec labclient node bench/peers/pg-poller.mjs T0 MAX_S [ADDR]
// Every 20 ms it opens a fresh connection to postgres at ADDR:5432 (0.5 s budget each; raw v3
// protocol, trust auth, no libpq: nothing to install) and asks for the postmaster's start time.
// It stops at the first answer from a postmaster started after T0 (seconds since the epoch, the
// moment the move or the crash was issued: the same clock, one kernel), or after MAX_S. Prints
// one JSON line: ready (s after T0), the outage the client saw (first failed attempt to ready),
// the attempts made. Bounded: MAX_S seconds, one attempt per 20 ms. Ported from the recipe in
// shared/peers/pacemaker/poller.py so that Pacemaker and svcc are timed by the same code.
import net from "node:net";

const [t0Arg, maxArg, addr = "198.51.100.50"] = process.argv.slice(2);
const T0 = Number(t0Arg);
const MAX_S = Number(maxArg);
if (!Number.isFinite(T0) || !Number.isFinite(MAX_S)) {
  process.stderr.write("usage: pg-poller.mjs T0 MAX_S [ADDR]\n");
  process.exit(2);
}
const QUERY = "select extract(epoch from pg_postmaster_start_time())::text";
const now = () => Date.now() / 1000;

function message(type, body) {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** One connection: the postmaster's start time (epoch seconds), or a rejection. */
function attempt() {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: addr, port: 5432 });
    let buf = Buffer.alloc(0);
    let value;
    const done = (err, v) => {
      clearTimeout(timer);
      sock.destroy();
      err ? reject(err) : resolve(v);
    };
    const timer = setTimeout(() => done(new Error("timeout")), 500);
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error("closed")));
    sock.on("connect", () => {
      const params = Buffer.from("user\0postgres\0database\0postgres\0\0", "latin1");
      const len = Buffer.alloc(8);
      len.writeUInt32BE(params.length + 8, 0);
      len.writeUInt32BE(196608, 4);
      sock.write(Buffer.concat([len, params]));
    });
    let queried = false;
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const type = String.fromCharCode(buf[0]);
        const n = buf.readUInt32BE(1);
        if (buf.length < n + 1) return;
        const body = buf.subarray(5, n + 1);
        buf = buf.subarray(n + 1);
        if (type === "E") return done(new Error(`E:${body.toString("latin1").slice(0, 80)}`));
        if (type === "D") {
          const len = body.readInt32BE(2);
          value = Number(body.subarray(6, 6 + len).toString("latin1"));
        }
        if (type === "Z") {
          if (!queried) {
            queried = true;
            sock.write(message("Q", Buffer.from(`${QUERY}\0`, "latin1")));
          } else {
            sock.write(message("X", Buffer.alloc(0)));
            return done(undefined, value);
          }
        }
      }
    });
  });
}

const results = [];
const pending = new Set();
const end = T0 + MAX_S;
let ready;
for (let i = 0; i < Math.ceil((MAX_S * 1000) / 20) + 1 && now() < end && ready === undefined; i++) {
  const started = now();
  const p = attempt().then(
    (pm) => {
      const r = { started, ended: now(), ok: true, pm };
      results.push(r);
      if (pm > T0 && (ready === undefined || r.ended < ready.ended)) ready = r;
    },
    (e) => results.push({ started, ended: now(), ok: false, why: String(e.code ?? e.message).slice(0, 40) }),
  );
  pending.add(p);
  p.finally(() => pending.delete(p));
  await new Promise((r) => setTimeout(r, 20));
}
// Attempts still under way end within their 0.5 s budget.
await Promise.all([...pending]);
const fails = results.filter((r) => !r.ok).sort((a, b) => a.started - b.started);
const oldOk = results.filter((r) => r.ok && !(r.pm > T0));
const out = { t0: T0, attempts: results.length };
if (ready) Object.assign(out, { ready: ready.ended - T0, pmStart: ready.pm - T0 });
if (fails.length) {
  out.firstFail = fails[0].started - T0;
  if (ready) out.outage = ready.ended - fails[0].started;
  out.failKinds = {};
  for (const f of fails) out.failKinds[f.why] = (out.failKinds[f.why] ?? 0) + 1;
}
if (oldOk.length) out.lastOldOk = Math.max(...oldOk.map((r) => r.ended)) - T0;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(ready ? 0 : 1);
