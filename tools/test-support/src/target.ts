import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { type CliOptions, type CliResult, type LiveClient, runClient, spawnClient } from "./cli.js";
import { dockerodeFor } from "./dockerode.js";

/** The engine's own socket: what direct mode hands out, and what cleanup always uses. */
export const DIRECT_SOCKET = "/var/run/docker.sock";

/** POWERSTRIP_TEST_DIRECT=1 runs the engine tests against Docker itself, to prove the tests right. */
export function isDirectMode(): boolean {
  return process.env.POWERSTRIP_TEST_DIRECT === "1";
}

/** A socket that behaves like /var/run/docker.sock, and the real clients bound to it. */
export interface DockerTarget {
  /** True when this is the engine's socket rather than a proxy's. */
  readonly direct: boolean;
  readonly socketPath: string;
  /** `unix://<socketPath>`, as DOCKER_HOST takes it. */
  readonly dockerHost: string;
  /** Runs the docker CLI to completion. */
  docker(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** Starts the docker CLI and lets the test watch it (`logs -f`, `events`). */
  spawnDocker(args: readonly string[], options?: CliOptions): LiveClient;
  /** Runs the standalone docker-compose (1.29) to completion. */
  compose(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** A dockerode client for this socket. */
  dockerode(): Docker;
  close(): Promise<void>;
}

/**
 * The proxy under test, as `@powerstrip/proxy-core` exports it. Tests pass it in, so this package
 * does not depend on the proxy (whose own tests depend on this package).
 */
export type StartProxy = (options: { listen: string[]; docker: string }) => Promise<{
  readonly addresses: string[];
  close(): Promise<void>;
}>;

export interface ProxyOptions {
  /** The upstream engine, as startProxy takes it (default: the engine's socket). */
  docker?: string;
}

/** Direct mode: the engine socket; otherwise a fresh proxy in front of it. */
export async function openTarget(startProxy: StartProxy): Promise<DockerTarget> {
  if (isDirectMode()) return bindTarget(DIRECT_SOCKET, true, async () => {});
  return startTestProxy(startProxy);
}

/** Always a proxy (even in direct mode), listening on a fresh temp unix socket. */
export async function startTestProxy(
  startProxy: StartProxy,
  options: ProxyOptions = {},
): Promise<DockerTarget> {
  const dir = await mkdtemp(join(tmpdir(), "pst-engine-"));
  const listen = `unix://${join(dir, "proxy.sock")}`;
  const proxy = await startProxy({ listen: [listen], docker: options.docker ?? `unix://${DIRECT_SOCKET}` });
  const address = proxy.addresses.find((a) => a.startsWith("unix://"));
  if (!address) throw new Error(`proxy did not report a unix address: ${JSON.stringify(proxy.addresses)}`);
  return bindTarget(address.slice("unix://".length), false, async () => {
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });
}

function bindTarget(socketPath: string, direct: boolean, close: () => Promise<void>): DockerTarget {
  return {
    direct,
    socketPath,
    dockerHost: `unix://${socketPath}`,
    docker: (args, options) => runClient("docker", socketPath, args, options),
    spawnDocker: (args, options) => spawnClient("docker", socketPath, args, options),
    compose: (args, options) => runClient("docker-compose", socketPath, args, options),
    dockerode: () => dockerodeFor(socketPath),
    close,
  };
}
