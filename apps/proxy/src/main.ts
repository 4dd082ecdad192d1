import { AdapterHost, DockerRuntime, StateStore, startAdminServer } from "@powerstrip/adapter-host";
import { startProxy } from "@powerstrip/proxy-core";
import { CommanderError } from "commander";
import { parseConfig, proxyCommand } from "./config.js";

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
  try {
    // First, before anything listens: a state file that cannot be read refuses the start.
    const store = await StateStore.open(config.stateDir);
    const proxy = await startProxy({
      listen: config.listen,
      docker: config.docker,
      socketMode: config.socketMode,
      maxBodyBytes: config.maxBodyBytes,
      ...(config.socketGroup !== undefined ? { socketGroup: config.socketGroup } : {}),
    });
    const host = new AdapterHost(proxy.hooks, {
      runtime: DockerRuntime.connect(config.docker),
      store,
      socketTimeoutMs: config.adapterStartTimeoutMs,
      log: (line) => process.stderr.write(`powerstrip-proxy: ${line}\n`),
    });
    const admin = await startAdminServer({ address: config.admin, host }).catch(async (error) => {
      await proxy.close();
      throw error;
    });
    const stop = (signal: string) => {
      process.stderr.write(`powerstrip-proxy: ${signal}, shutting down\n`);
      // No more loads, then no more clients, then the adapters: never a moment where clients are
      // served with an adapter already unhooked. Adapter containers keep running for the next start.
      admin
        .close()
        .then(() => proxy.close())
        .then(() => host.close())
        .then(() => process.exit(0));
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // Ready only once a SIGTERM would be handled: a supervisor may signal as soon as it sees this.
    process.stderr.write(
      `powerstrip-proxy: listening on ${proxy.addresses.join(", ")}; engine ${config.docker}; admin API on ${admin.address}\n`,
    );
    // Clients are served meanwhile; `powerstrip ls` shows the adapters loading, then ready or failed.
    host.boot(config.adapters).catch((error: unknown) => {
      process.stderr.write(`powerstrip-proxy: loading the adapters failed: ${(error as Error).message}\n`);
    });
  } catch (error) {
    fail(error);
  }
}

function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`powerstrip-proxy: ${message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(1);
}
