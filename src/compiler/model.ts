// Data shapes passed between the compiler's stages.

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

export type Value = string | number | boolean | string[];

export interface ClusterFacts {
  clusterName?: string;
  nodes?: string[];
  containerEngine?: "docker" | "podman";
}

export interface ResolvedResource {
  rid: string;
  group: string;
  index: number;
  /** Normalised: ip "" → "host"; container "" or "oci" → the cluster's engine. */
  type: string;
  values: ReadonlyMap<string, Value>;
}

export interface ResolvedService {
  name: string;
  file: string;
  namespace: string;
  nodes: string[];
  drpnodes: string[];
  orchestrate: string;
  monitorAction: string;
  rollback: boolean;
  priority: number;
  resources: ResolvedResource[];
  disabledRids: ReadonlySet<string>;
  /** Per node: environment variables for values that differ between nodes. */
  nodeEnvironment: ReadonlyMap<string, ReadonlyMap<string, string>>;
}
