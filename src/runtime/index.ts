// placeholder until the runtime helper lands (not committed)
export async function runResAction(argv: string[]): Promise<number> {
  process.stderr.write(`svcc res: not available yet: ${argv.join(" ")}\n`);
  return 1;
}
