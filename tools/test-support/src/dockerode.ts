import Docker from "dockerode";

/** A dockerode client on a unix socket (no version prefix: it talks whatever the engine negotiates). */
export function dockerodeFor(socketPath: string): Docker {
  return new Docker({ socketPath });
}
