// The generator's writing on a second thread, beside the compile. Creating a file on tmpfs costs
// the kernel ~15-20 µs here (the page for its content most of it), 17 files a service: about a
// third of a 1,000-service run when one thread compiles and writes in turn. Handed to a worker
// thread, the files of one service are written while the next ones compile. The worker runs the
// same writer as the main thread would (inThreadWriter: O_CREAT|O_EXCL|O_NOFOLLOW, all or
// nothing per service, nothing already there replaced), on the services in the order they were
// compiled, and answers once, when told that the last one was handed over, with the ones it
// could not write. A worker runs no compile: it pays Node's start of a thread (~30-40 ms of CPU
// on the other core), not the compiler's JIT warm-up, which is why it is only started for a
// run of many configs (writerThreadMinConfigs). On a machine with no core to spare it
// costs more than it saves (its start and the hand-over: ~5% more CPU for a 1,000-service run).

import { type MessagePort, Worker } from "node:worker_threads";
import type { CompiledFile } from "../compiler/compile.js";
import { inThreadWriter, type ServiceWriter } from "./generate.js";

/**
 * Below this many configs the thread's start (~40 ms before it writes, ~30-40 ms of CPU) costs
 * about what it saves: at 100 services (~50 ms of writing) it made the run slower at load 5.
 */
export const writerThreadMinConfigs = 256;

export interface WriterThreadData {
  outputDir: string;
  /** What was in the output directory before the run (generate's listing). */
  present: string[];
}

type Request = { slot: number; name: string; files: CompiledFile[]; bootUnits: readonly string[] } | "done";
interface Reply {
  failed: Array<[number, string]>;
}

/**
 * Main thread: a writer whose writes run on a worker started from `workerFile` (bin/svcc-generator,
 * which runs runWriterThread there), or undefined when no worker can be started (then the
 * caller writes in its own thread). If the worker dies, every service handed to it is reported
 * as not written.
 */
export function writerThread(workerFile: string, outputDir: string, present: Set<string>): ServiceWriter | undefined {
  let worker: Worker;
  try {
    const data: WriterThreadData = { outputDir, present: [...present] };
    worker = new Worker(workerFile, { workerData: { svccGeneratorWriter: data } });
  } catch {
    return undefined;
  }
  const handedOver: number[] = [];
  const failures = new Promise<Map<number, string>>((settle) => {
    let settled = false;
    const lost = (why: string) => {
      if (settled) return;
      settled = true;
      settle(new Map(handedOver.map((slot) => [slot, `not known to be written: the generator's writer thread ${why}`])));
    };
    worker.once("message", (reply: Reply) => {
      settled = true;
      settle(new Map(reply.failed));
    });
    worker.once("error", (err) => lost(`failed (${err.message})`));
    // Node delivers what the worker posted before 'exit': an exit first means no answer.
    worker.once("exit", (code) => lost(`stopped (exit code ${code}) before it answered`));
  });
  return {
    around: (fn) => fn(),
    write(slot, name, files, bootUnits) {
      handedOver.push(slot);
      worker.postMessage({ slot, name, files, bootUnits } satisfies Request);
    },
    done() {
      worker.postMessage("done" satisfies Request);
      return failures;
    },
    close() {
      // The worker ends by itself once it answered.
    },
  };
}

/** Worker thread: writes each service handed over, in order, and answers with the failures once told it has them all. */
export function runWriterThread(port: MessagePort, data: WriterThreadData): void {
  let writer: ServiceWriter | undefined;
  let cannotOpen = "";
  try {
    writer = inThreadWriter(data.outputDir, new Set(data.present));
  } catch (err) {
    cannotOpen = (err as Error).message;
  }
  const failed: Reply["failed"] = [];
  port.on("message", (request: Request) => {
    if (request === "done") {
      writer?.close();
      port.postMessage({ failed } satisfies Reply);
      port.close();
      return;
    }
    if (!writer) {
      failed.push([request.slot, cannotOpen]);
      return;
    }
    try {
      writer.write(request.slot, request.name, request.files, request.bootUnits);
    } catch (err) {
      failed.push([request.slot, (err as Error).message]);
    }
  });
}
