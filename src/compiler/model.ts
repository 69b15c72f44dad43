// Data shapes passed between the compiler's stages.

import type { Resource } from "./drivers/types.js";
import type { FlexCounts } from "./flex.js";
import type { Warning } from "./warnings.js";

/**
 * Values may carry placeholders for things only known on the node at run time. They are
 * control characters, which no config value may contain (the resolver rejects them), and
 * the unit writer turns them into systemd syntax after escaping everything else.
 */
export const NODE_NAME = "\u0001H\u0002"; // → %H
export const SHORT_NODE_NAME = "\u0001l\u0002"; // → %l
export const envPlaceholder = (variable: string) => `\u0001E${variable}\u0002`; // → ${VAR}
export const placeholderPattern = /\u0001(H|l|E[A-Za-z0-9_]+)\u0002/g;

export function hasPlaceholder(value: string): boolean {
  return value.includes("\u0001");
}

/** Whether the value holds a per-node variable (not only %H/%l). */
export function hasNodeVariable(value: string): boolean {
  return value.includes("\u0001E");
}

export type { Value } from "./keyword.js";

export interface ClusterFacts {
  clusterName?: string;
  nodes?: string[];
  containerEngine?: "docker" | "podman";
  /** Where each fact came from, for messages: a cluster file, or --nodes. */
  sources?: { clusterName?: string; nodes?: string };
}

export type ResolvedResource = Resource;

export type TriggerKey = `${"" | "blocking_"}${"pre" | "post"}_${"start" | "stop"}`;

export interface PrivateDocker {
  /** dockerd --data-root. */
  dataDir: string;
  /** docker_daemon_args. */
  args: string[];
  /** dockerd_exe, else "dockerd". */
  dockerd: string;
}

export interface ResolvedService {
  name: string;
  file: string;
  namespace: string;
  nodes: string[];
  drpnodes: string[];
  orchestrate: string;
  /** topology=flex: an instance on every node (flex_target = #nodes), outside the lease (flex.ts). */
  flex?: FlexCounts;
  monitorAction: string;
  /** How often the check unit runs (monitor_schedule). */
  monitorIntervalMs: number;
  rollback: boolean;
  priority: number;
  /** How long the precheck listens for answers to its ARP probes (precheck_wait). */
  precheckWaitMs: number;
  /** DEFAULT's triggers: run once before and after the whole start or stop. */
  triggers: Partial<Record<TriggerKey, string>>;
  resources: ResolvedResource[];
  /** OpenSVC 2's private docker daemon for the service's docker containers (container_data_dir). */
  privateDocker?: PrivateDocker;
  disabledRids: ReadonlySet<string>;
  /** Per node: environment variables for values that differ between nodes. */
  nodeEnvironment: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Keywords accepted without meaning under systemd, and values for nodes the service is not on. */
  warnings: Warning[];
}
