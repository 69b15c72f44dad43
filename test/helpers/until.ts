// Polls a condition in a test (every 10-20 ms, bounded): resolves with its first defined value,
// throws naming what it waited for when the bound passes.

export async function until<T>(what: string, f: () => T | undefined, ms = 5000, everyMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
