// What the agent needs of systemd: start a unit and learn how its job ended, read unit
// states, reset and kill units, know whether its own unit is being restarted, and be told
// when something changed. SystemdBus implements it over D-Bus; the simulator and unit tests
// implement it in memory.

export type JobOutcome = "done" | "canceled" | "timeout" | "failed" | "dependency" | "skipped" | "invalid" | "unknown";

export interface Systemd {
  /**
   * Starts a unit and resolves when its job ended. "unknown" when the outcome cannot be known
   * (the bus dropped, or the job outlived the wait): a start of unknown outcome counts as up.
   * waitMs 0: the job is only queued, nobody waits for its end ("unknown" at once).
   */
  startUnit(unit: string, waitMs: number): Promise<JobOutcome>;
  /** Restarts a unit (stop, then start; units bound to it follow) and resolves when the job ended, as startUnit. */
  restartUnit(unit: string, waitMs: number): Promise<JobOutcome>;
  /** ActiveState of each unit ("active", "inactive", "failed", …); throws when systemd cannot be asked. */
  states(units: readonly string[]): Promise<Map<string, string>>;
  resetFailed(units: readonly string[]): Promise<void>;
  /** Sends a signal to every process of the unit. */
  killUnit(unit: string, signal: number): Promise<void>;
  /** The type of the job systemd is running on the agent's own unit ("restart", "stop", …), if any. */
  ownJobType(): Promise<string | undefined>;
  /** The system is shutting down (a job for shutdown.target was queued): start nothing. */
  shuttingDown(): boolean;
  /**
   * The units whose state changes and job ends must reach onChange listeners, and the units
   * whose jobs the agent starts and waits for without caring for their state (the stop unit,
   * a check unit the agent answers itself): their job ends reach only the waiters.
   */
  watchUnits(units: readonly string[], jobUnits?: readonly string[]): void;
  /** Called whenever a job ends, a watched unit changes, or the connection to systemd is new, so the agent looks again at once. */
  onChange(listener: () => void): void;
  close(): void;
}
