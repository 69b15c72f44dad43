// Opens the etcd client for the agent's config. The etcd3 package (gRPC) is loaded only when
// the etcd backend is chosen: an agent on a shared disk never loads it.
// The client's own fault handling stays as etcd3 sets it (a call retried on another member
// within the same absolute deadline, a member that failed three times in a row skipped for
// 5 s): every call the store makes carries a deadline no later than what is left of its lease.

import { readFileSync } from "node:fs";
import type { Etcd3 } from "etcd3";
import type { EtcdConfig } from "../config.js";

export async function connectEtcd(config: Pick<EtcdConfig, "endpoints" | "tls">): Promise<Etcd3> {
  const { Etcd3 } = await import("etcd3");
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read the etcd ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const credentials = config.tls ? { rootCertificate: read(config.tls.ca, "CA file")!, privateKey: read(config.tls.key, "client key"), certChain: read(config.tls.cert, "client certificate") } : undefined;
  return new Etcd3({ hosts: config.endpoints, credentials, dialTimeout: 5000 });
}
