// How `svcc switch|start|stop` show a request's progress: one line per event with its time
// since the request began and its own duration, then a final line with the total and its
// phases. On a terminal a live status line (spinner, time, current step) sits below the
// lines; off a terminal only the lines; --json the same events as JSON lines; --quiet only
// the final line. Pure over its outputs and clock, so recorded event sequences render the
// same in tests as in a terminal. Terminal control goes through node:readline.

import { clearLine, cursorTo } from "node:readline";
import { isLine, type Phase, type ProgressEvent } from "../fence/progress.js";
import type { Style } from "./style.js";

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

export interface Output {
  write(text: string): unknown;
  /** Terminal width (the status line is cut to it, so it never wraps). */
  columns?: number;
}

export interface RequestOutcome {
  ok: boolean;
  error?: string;
  data?: { ms?: number; phases?: Phase[]; [key: string]: unknown };
}

export interface ProgressOptions {
  mode: ProgressMode;
  style: Style;
  /** Local clock (ms) for the live elapsed time between events. */
  now: () => number;
}

/** `0.42s`, `12.30s`, `2m05.3s`. */
export function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${((ms - m * 60_000) / 1000).toFixed(1).padStart(4, "0")}s`;
}

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
const WHO = 8;
const WORD = 9;
const WHAT = 44;

/** An event as words: who acts, the state word (coloured), the rest. */
interface Words {
  who: string;
  word?: string;
  /** The state the word's colour follows (the word itself when absent). */
  colourOf?: string;
  detail: string;
}

function holderText(node: string | undefined, token: number | undefined): string {
  return node ? `${node} (token ${token})` : "nobody";
}

function words(e: ProgressEvent): Words {
  switch (e.event) {
    case "requested": {
      const where = e.node ? (e.cmd === "switch" ? ` to ${e.node}` : ` on ${e.node}`) : "";
      return { who: e.cmd, detail: `${e.service}${where}: ${e.holder ? `${e.holder} holds the lease (token ${e.token})` : "the lease is free"}` };
    }
    case "node": {
      // The step often begins with the state's own word ("stopping (switch to node2)").
      const step = e.step ?? "";
      const detail = step === e.state ? "" : step.startsWith(`${e.state} `) ? step.slice(e.state.length + 1) : step;
      return { who: e.node, word: e.state, detail };
    }
    case "unit":
      return { who: e.node, word: e.state, detail: e.unit };
    case "lease":
      if (!e.holder) return { who: "lease", word: "released", colourOf: "free", detail: `by ${holderText(e.from, e.fromToken)}` };
      if (!e.from) return { who: "lease", word: "taken", colourOf: "held", detail: `by ${holderText(e.holder, e.token)}` };
      return { who: "lease", word: "passed", colourOf: "held", detail: `${holderText(e.from, e.fromToken)} → ${holderText(e.holder, e.token)}` };
  }
}

function finalText(request: ProgressEvent | undefined, outcome: RequestOutcome): string {
  const ms = outcome.data?.ms;
  const phases = (outcome.data?.phases ?? []).map((p) => `${p.phase} ${seconds(p.ms)}${p.node ? ` on ${p.node}` : ""}`).join(", ");
  const total = ms === undefined ? "" : `${seconds(ms)}${phases ? ` (${phases})` : ""}`;
  const service = request?.event === "requested" ? request.service : "";
  const node = request?.event === "requested" ? request.node : undefined;
  const cmd = request?.event === "requested" ? request.cmd : "";
  if (!outcome.ok) return `${cmd ? `${cmd} of ${service}${node ? ` to ${node}` : ""} failed${ms === undefined ? "" : ` after ${seconds(ms)}`}: ` : ""}${outcome.error ?? "failed"}`;
  if (cmd === "stop") return `${service} is stopped: ${total}`;
  return `${service} is up${node ? ` on ${node}` : ""}: ${total}`;
}

export class ProgressPrinter {
  private frame = 0;
  private request?: ProgressEvent;
  private current?: Words;
  private lastT = 0;
  private lastLocal: number;
  private statusShown = false;

  constructor(
    private readonly out: Output,
    private readonly err: Output,
    private readonly o: ProgressOptions,
  ) {
    this.lastLocal = o.now();
  }

  event(e: ProgressEvent): void {
    if (e.event === "requested") this.request = e;
    this.lastT = e.t;
    this.lastLocal = this.o.now();
    const line = isLine(e);
    if (this.o.mode === "json") {
      if (line) this.out.write(`${JSON.stringify(e)}\n`);
      return;
    }
    if (this.o.mode === "quiet") return;
    this.current = words(e);
    if (this.o.mode === "tty") this.clearStatus();
    if (line) this.out.write(`${this.line(e)}\n`);
    if (this.o.mode === "tty") this.drawStatus();
  }

  /** Redraws the live status line (the CLI calls it every 100 ms on a terminal). */
  tick(): void {
    if (this.o.mode !== "tty" || !this.current) return;
    this.frame = (this.frame + 1) % SPINNER.length;
    this.clearStatus();
    this.drawStatus();
  }

  /** The final line; returns the exit code. */
  done(outcome: RequestOutcome): number {
    if (this.o.mode === "tty") this.clearStatus();
    const text = finalText(this.request, outcome);
    const s = this.o.style;
    if (this.o.mode === "json") this.out.write(`${JSON.stringify({ event: "done", ok: outcome.ok, ...(outcome.error ? { error: outcome.error } : {}), ...outcome.data })}\n`);
    if (outcome.ok) {
      if (this.o.mode !== "json") this.out.write(`${s.bold(text)}\n`);
      return 0;
    }
    this.err.write(`${s.red(`svcc: ${text}`)}\n`);
    return 1;
  }

  /** Clears the status line when the CLI is interrupted, leaving the lines above intact. */
  interrupted(): void {
    if (this.o.mode === "tty") this.clearStatus();
  }

  private line(e: ProgressEvent): string {
    const s = this.o.style;
    const w = words(e);
    const elapsed = s.dim(seconds(e.t).padStart(8));
    const word = w.word === undefined ? "" : `${s.state(w.colourOf ?? w.word, w.word)}${" ".repeat(Math.max(1, WORD - w.word.length))}`;
    const whatWidth = (w.word === undefined ? 0 : Math.max(WORD, w.word.length + 1)) + w.detail.length;
    const head = `${elapsed}  ${w.who.padEnd(WHO)} ${word}${w.detail}`;
    if (e.event === "requested" || e.ms === undefined) return head.trimEnd();
    return `${head}${" ".repeat(Math.max(1, WHAT - whatWidth + 1))}${seconds(e.ms).padStart(7)}`;
  }

  private clearStatus(): void {
    if (!this.statusShown) return;
    cursorTo(this.out as NodeJS.WritableStream, 0);
    clearLine(this.out as NodeJS.WritableStream, 0);
    this.statusShown = false;
  }

  private drawStatus(): void {
    const w = this.current;
    if (!w) return;
    const t = this.lastT + Math.max(0, this.o.now() - this.lastLocal);
    const plain = `${SPINNER[this.frame]} ${seconds(t)}  ${w.who}${w.word ? ` ${w.word}` : ""}${w.detail ? ` ${w.detail}` : ""}`;
    const width = Math.max(10, (this.out.columns ?? 80) - 1);
    const cut = [...plain].length > width ? `${[...plain].slice(0, width - 1).join("")}…` : plain;
    this.out.write(this.o.style.yellow(cut));
    this.statusShown = true;
  }
}
