// Bounds on what one config may ask for. Past each, svcc stops with an exit-2 error that names
// the file, section and key, instead of running out of stack or memory, or writing a unit
// that systemd refuses or misreads.

export const limits = {
  /** Config text (a service config is a few KB; OpenSVC's largest are far below this). */
  configBytes: 1 << 20,
  /** One value after its references are expanded (a doubling reference chain stops here). */
  valueChars: 1 << 16,
  /** References resolved through references: OpenSVC's own MAX_RECURSION. */
  referenceDepth: 20,
  /** Resources in one service. */
  resources: 1_000,
  /** Nodes and drpnodes of one service. */
  nodes: 64,
  /** A node name: HOST_NAME_MAX, as %H will be on the node. */
  nodeNameChars: 64,
  /** Durations (timeouts, delays): 30 days is past any start or stop a unit should wait for. */
  durationMs: 30 * 86_400_000,
  /** Whole numbers (restart counts, kill rounds, priority). */
  int: 1_000_000,
  /** systemd's unit names (UNIT_NAME_MAX - 1). */
  unitNameChars: 255,
  /** systemd's longest unit-file line (LONG_LINE_MAX). */
  unitLineBytes: 1 << 20,
  /** Absolute paths (PATH_MAX - 1) and their components (NAME_MAX). */
  pathChars: 4095,
  pathComponentChars: 255,
} as const;
