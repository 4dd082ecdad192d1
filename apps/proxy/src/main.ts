import { AdapterHost, DockerRuntime, StateStore, startAdminServer } from "@powerstrip/adapter-host";
import { loadTlsFiles, startProxy } from "@powerstrip/proxy-core";
import { CommanderError } from "commander";
import { parseConfig, proxyCommand } from "./config.js";
import { createLogger, lifecycleLogger } from "./logging.js";
import { startObservability } from "./observability.js";

/** Runs the daemon until SIGTERM or SIGINT. Every failure is one line on stderr and exit 1. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(argv, env);
  } catch (error) {
    if (
      error instanceof CommanderError &&
      (error.code === "commander.helpDisplayed" || error.code === "commander.help")
    ) {
      process.stdout.write(proxyCommand().helpInformation());
      process.exit(0);
    }
    fail(error);
  }
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const lifecycle = lifecycleLogger(logger);
  try {
    // First, before anything listens: a state file that cannot be read refuses the start.
    const store = await StateStore.open(config.stateDir);
    const proxy = await startProxy({
      listen: config.listen,
      docker: config.docker,
      socketMode: config.socketMode,
      maxBodyBytes: config.maxBodyBytes,
      ...(config.socketGroup !== undefined ? { socketGroup: config.socketGroup } : {}),
      ...(config.tls !== undefined ? { tls: await loadTlsFiles(config.tls) } : {}),
      onObserverError: (error) =>
        logger.error(`an observer of the data path failed (reported once): ${(error as Error).message}`),
    });
    const observability = await startObservability(proxy.observers, logger, config.metrics).catch(
      async (error) => {
        await proxy.close();
        throw error;
      },
    );
    const host = new AdapterHost(proxy.hooks, {
      runtime: DockerRuntime.connect(config.docker),
      store,
      socketTimeoutMs: config.adapterStartTimeoutMs,
      log: (line, level) => logger[level](line),
      onUnloaded: (name) => observability.metrics.forget(name),
    });
    const admin = await startAdminServer({
      address: config.admin,
      host,
      trace: observability.trace,
      metrics: observability.metrics,
    }).catch(async (error) => {
      await observability.close();
      await proxy.close();
      throw error;
    });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: the operator will not wait for the drain. Clients and the adapters'
        // calls are cut, and the process exits without waiting for anything else.
        lifecycle.info(`${signal} again, shutting down now`);
        const cut = Promise.allSettled([proxy.close(), host.close()]);
        const now = new Promise((resolve) => setTimeout(resolve, SECOND_SIGNAL_GRACE_MS).unref());
        void Promise.race([cut, now]).then(() => process.exit(0));
        return;
      }
      stopping = true;
      const bound = config.shutdownTimeoutMs / 1000;
      lifecycle.info(`${signal}, shutting down (calls in flight get up to ${bound} s)`);
      // No more loads, then no new clients while the calls in flight finish (their hooks still
      // run), then the adapters: never a moment where clients are served with an adapter already
      // unhooked. Adapter containers keep running for the next start.
      admin
        .close()
        .then(() => proxy.drain(config.shutdownTimeoutMs))
        .then(({ cut }) => {
          if (cut > 0) {
            lifecycle.info(
              `shutting down: cut ${cut} connection${cut === 1 ? "" : "s"} still busy after ${bound} s`,
            );
          }
          return host.close();
        })
        .then(() => observability.close())
        .then(() => process.exit(0));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    // Ready only once a SIGTERM would be handled: a supervisor may signal as soon as it sees this.
    // Written whatever --log-level: supervisors wait for it.
    lifecycle.info(
      `listening on ${proxy.addresses.join(", ")}; engine ${config.docker}; admin API on ${admin.address}${observability.metricsAddress ? `; metrics on ${observability.metricsAddress}` : ""}`,
    );
    // Clients are served meanwhile; `powerstrip ls` shows the adapters loading, then ready or failed.
    host.boot(config.adapters).catch((error: unknown) => {
      logger.error(`loading the adapters failed: ${(error as Error).message}`);
    });
  } catch (error) {
    fail(error);
  }
}

/** After a second signal, the most the sockets' closing may take before the process exits anyway. */
const SECOND_SIGNAL_GRACE_MS = 500;

function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`powerstrip-proxy: ${message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(1);
}
