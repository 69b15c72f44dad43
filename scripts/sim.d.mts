export function buildSim(outfile?: string): Promise<string>;
