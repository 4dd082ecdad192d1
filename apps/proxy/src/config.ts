import { Command, Option } from "commander";

/** The daemon's settings, from flags first, then POWERSTRIP_<NAME> environment variables. */
export interface ProxyConfig {
  listen: string[];
  docker: string;
  admin: string;
  stateDir: string;
  adapters: string[];
  socketGroup: string | undefined;
  socketMode: number;
}

export const DEFAULTS = {
  listen: "unix:///run/powerstrip/docker.sock",
  docker: "unix:///var/run/docker.sock",
  admin: "unix:///run/powerstrip/admin.sock",
  stateDir: "/var/lib/powerstrip",
} as const;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value))
    throw new Error(`invalid socket mode ${JSON.stringify(value)} (expected e.g. 660)`);
  return Number.parseInt(value, 8);
}

/** Builds the command line; parsing errors leave through `exitOverride` as thrown errors. */
export function proxyCommand(): Command {
  return new Command("powerstrip-proxy")
    .description("A proxy in front of the Docker Engine API that adapters hook into")
    .addOption(
      new Option(
        "--listen <address>",
        `where Docker clients connect, repeatable (default ${DEFAULTS.listen})`,
      )
        .argParser(collect)
        .env("POWERSTRIP_LISTEN"),
    )
    .addOption(
      new Option("--docker <address>", "the Docker engine to forward to (never read from DOCKER_HOST)")
        .default(DEFAULTS.docker)
        .env("POWERSTRIP_DOCKER"),
    )
    .addOption(
      new Option("--admin <address>", "the admin API socket").default(DEFAULTS.admin).env("POWERSTRIP_ADMIN"),
    )
    .addOption(
      new Option("--state-dir <dir>", "where the adapter set is kept")
        .default(DEFAULTS.stateDir)
        .env("POWERSTRIP_STATE_DIR"),
    )
    .addOption(
      new Option("--adapters <images>", "adapter images to load at boot, space-separated").env(
        "POWERSTRIP_ADAPTERS",
      ),
    )
    .addOption(
      new Option("--socket-group <group>", "group of the unix sockets (default: docker, when it exists)").env(
        "POWERSTRIP_SOCKET_GROUP",
      ),
    )
    .addOption(
      new Option("--socket-mode <mode>", "permission bits of the unix sockets")
        .default(0o660, "660")
        .argParser(parseMode)
        .env("POWERSTRIP_SOCKET_MODE"),
    )
    .helpOption("-h, --help")
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): ProxyConfig {
  const command = proxyCommand();
  // commander reads env through process.env; give it the env we were handed.
  const saved = process.env;
  process.env = env;
  try {
    command.parse(argv, { from: "user" });
  } finally {
    process.env = saved;
  }
  const options = command.opts<{
    listen?: string[] | string;
    docker: string;
    admin: string;
    stateDir: string;
    adapters?: string;
    socketGroup?: string;
    socketMode: number;
  }>();
  // From the environment, POWERSTRIP_LISTEN holds one or more addresses separated by spaces.
  const listen =
    typeof options.listen === "string"
      ? options.listen.split(/\s+/).filter(Boolean)
      : (options.listen ?? [DEFAULTS.listen]);
  return {
    listen,
    docker: options.docker,
    admin: options.admin,
    stateDir: options.stateDir,
    adapters: (options.adapters ?? "").split(/\s+/).filter(Boolean),
    socketGroup: options.socketGroup,
    socketMode: options.socketMode,
  };
}
