// Exit codes of `svcc res` and the errors that map onto them. systemd only sees the code;
// the message (written to stderr, so to the journal) is what the operator reads.

export const exitCodes = {
  ok: 0,
  /** The step failed, or the state asked about does not hold (vg-status, ip-check-free: in use). */
  failed: 1,
  /** Unknown action, unknown or missing flag, bad value. */
  usage: 2,
  /** ip-check-free could not tell whether an address is free (arping missing, device absent or down). */
  unknown: 3,
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A step that cannot be done, with what the operator needs to know about why. */
export class ActionError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.failed,
  ) {
    super(message);
    this.name = "ActionError";
  }
}
