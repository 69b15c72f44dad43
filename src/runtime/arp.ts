// ARP with iputils arping: duplicate address detection before a service starts, and the
// gratuitous ARP that tells neighbours where an address lives after it moved.
//
// Why the probes are run this way: OpenSVC's availability check costs about 5 s on every
// start, and iputils arping cannot go faster by itself: -i and -w take whole seconds here
// (iputils 20221126 rejects "0.1"), and even `-c 1` waits a full second for a reply that, for
// a free address, never comes. A DAD probe (RFC 5227: sender address 0.0.0.0) is answered by
// whoever holds the address within milliseconds on a LAN, so waiting a second is only waiting.
// So the helper starts one `arping -D -c 1 -w 1` per probe, `intervalMs` apart (arping sends
// its probe at once), and ends all of them itself, by the PIDs it spawned, at
// `probes * intervalMs` after the first: the first probe has had every interval to be
// answered, the last one a full interval. arping ends gracefully on SIGTERM and still prints
// "Sent N probes / Received M response(s)" and exits 1 in DAD mode when someone answered, so
// the verdict is always arping's own: a reply makes the address "in use" (and ends the other
// probes at once), a probe that was sent and not answered counts as unanswered, and a probe
// that could not be sent (device missing or down, arping missing) makes the check fail as
// "unknown" rather than "free". A probe ended before it was even sent (a loaded machine slow
// to start arping) is not counted as unanswered: it is probed again once with arping's own
// one-second bound. Defaults: 3 probes, 50 ms apart → about 0.15 s for a free address instead
// of OpenSVC's 5 s (`--probes` and `--interval-ms` change them), and a live address is
// reported as soon as it answers: on a LAN a holder answers within a millisecond or two.

import type { RuntimeContext } from "./context.js";
import { inPlace, type Place } from "./iproute.js";
import type { CommandResult } from "./runner.js";

export interface ProbeSettings {
  probes: number;
  intervalMs: number;
}

export const defaultProbeSettings: ProbeSettings = { probes: 3, intervalMs: 50 };

export type AddressVerdict =
  | { address: string; state: "free"; probes: number }
  | { address: string; state: "in-use"; mac?: string }
  | { address: string; state: "unknown"; reason: string };

interface ProbeOutcome {
  sent: number;
  received: number;
  mac?: string;
  error?: string;
}

const sentCount = (stdout: string) => Number(/Sent (\d+) probe/.exec(stdout)?.[1] ?? 0);

function readArpingOutput(result: CommandResult): ProbeOutcome {
  const sent = sentCount(result.stdout);
  const received = Number(/Received (\d+) response/.exec(result.stdout)?.[1] ?? 0);
  const mac = /reply from \S+ \[([0-9A-Fa-f:]+)\]/.exec(result.stdout)?.[1];
  const summarized = /Received \d+ response/.test(result.stdout);
  // Ended by us before it had set itself up: it probed nothing, which proves nothing either way.
  if (result.timedOut && !summarized) return { sent: 0, received: 0 };
  // In DAD mode arping exits 0 when nobody answered and 1 when someone did; anything else,
  // or no summary at all, means it never probed (bad device, interface down, not installed).
  if (!summarized || (result.exitCode !== 0 && result.exitCode !== 1) || (result.exitCode === 1 && received === 0)) {
    const why = result.stderr.trim() || result.stdout.trim() || `exit ${result.exitCode}`;
    return { sent, received, error: `arping failed (exit ${result.exitCode}): ${why.split("\n").slice(0, 3).join(" | ")}` };
  }
  return { sent, received, mac };
}

async function probe(ctx: RuntimeContext, place: Place, dev: string, address: string, lifetimeMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  const [cmd, args] = inPlace(place, "arping", ["-D", "-c", "1", "-w", "1", "-I", dev, address]);
  const result = await ctx.runner.run(cmd, args, { timeoutMs: lifetimeMs, killSignal: "SIGTERM", signal });
  return readArpingOutput(result);
}

/** Duplicate address detection for one IPv4 address on one device. */
export async function checkAddressFree(ctx: RuntimeContext, dev: string, address: string, settings: ProbeSettings = defaultProbeSettings, place: Place = {}): Promise<AddressVerdict> {
  const { probes, intervalMs } = settings;
  const answered = new AbortController();
  const outcomes = await Promise.all(
    Array.from({ length: probes }, async (_, k): Promise<ProbeOutcome | undefined> => {
      if (k > 0) await ctx.clock.sleep(k * intervalMs, answered.signal);
      if (answered.signal.aborted) return undefined;
      const outcome = await probe(ctx, place, dev, address, (probes - k) * intervalMs, answered.signal);
      if (outcome.received > 0) answered.abort();
      return outcome;
    }),
  );
  const done = outcomes.filter((o): o is ProbeOutcome => o !== undefined);
  const reply = done.find((o) => o.received > 0);
  if (reply) return { address, state: "in-use", mac: reply.mac };
  const failure = done.find((o) => o.error);
  if (failure) return { address, state: "unknown", reason: failure.error! };
  let unanswered = done.filter((o) => o.sent > 0).length;
  for (let missing = probes - unanswered; missing > 0; missing--) {
    const retry = await probe(ctx, place, dev, address, 1_500);
    if (retry.received > 0) return { address, state: "in-use", mac: retry.mac };
    if (retry.error) return { address, state: "unknown", reason: retry.error };
    if (retry.sent === 0) return { address, state: "unknown", reason: "arping could not send its probe" };
    unanswered++;
  }
  return { address, state: "free", probes: unanswered };
}

/**
 * One gratuitous ARP (unsolicited, source = target = the address) so neighbours update their
 * caches at once. arping sends it the moment it starts, then idles up to its one-second bound
 * waiting for replies that unsolicited ARP never gets: it is started and left to end by itself
 * (its errors still reach the unit's journal), so the step and the service's next one do not
 * wait for it. One that cannot be started does not fail the step: the address is plumbed and
 * reachable as soon as caches expire; the warning tells the operator why clients may lag.
 */
export async function announceAddress(ctx: RuntimeContext, dev: string, address: string, place: Place = {}): Promise<void> {
  const [cmd, args] = inPlace(place, "arping", ["-U", "-c", "1", "-w", "1", "-I", dev, address]);
  const result = await ctx.runner.run(cmd, args, { detach: true });
  if (result.exitCode === 0) ctx.log.info(`gratuitous ARP for ${address} on ${dev}: handed to arping in the background`);
  else ctx.log.info(`warning: gratuitous ARP for ${address} on ${dev} not sent (${(result.stderr.trim() || `exit ${result.exitCode}`).split("\n")[0]}); neighbours will learn the new location when their ARP cache expires`);
}
