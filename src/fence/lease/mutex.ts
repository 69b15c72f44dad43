// Serialises a lease store's operations: each reads, decides and writes without another one in
// between (both stores need it: their operations are read-decide-write sequences over awaits).

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  /** Runs fn after every operation queued before it; onWait runs when fn must wait for one under way. */
  run<T>(fn: () => Promise<T>, onWait?: () => void): Promise<T> {
    if (this.held > 0) onWait?.();
    this.held++;
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => void this.held--,
      () => void this.held--,
    );
    return result;
  }
}
