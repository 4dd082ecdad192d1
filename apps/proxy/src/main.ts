import { AdapterHost, startAdminServer } from "@powerstrip/adapter-host";
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
  if (config.adapters.length > 0) {
    fail(new Error("loading adapters at boot (--adapters) is not available in this version yet"));
  }
  try {
    const proxy = await startProxy({
      listen: config.listen,
      docker: config.docker,
      socketMode: config.socketMode,
      ...(config.socketGroup !== undefined ? { socketGroup: config.socketGroup } : {}),
    });
    const host = new AdapterHost(proxy.hooks);
    const admin = await startAdminServer({ address: config.admin, host }).catch(async (error) => {
      await proxy.close();
      throw error;
    });
    const stop = (signal: string) => {
      process.stderr.write(`powerstrip-proxy: ${signal}, shutting down\n`);
      // No more loads, then no more clients, then the adapters: never a moment where clients are
      // served with an adapter already unhooked.
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
  } catch (error) {
    fail(error);
  }
}

function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`powerstrip-proxy: ${message.replace(/^error: /, "")}\n`);
  process.exit(1);
}
