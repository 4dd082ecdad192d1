import { type BootEntry, checkMetricsAddress, parseBootList } from "@powerstrip/adapter-host";
import type { TlsFiles } from "@powerstrip/proxy-core";
import { Command, Option } from "commander";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./logging.js";
import { type TlsFlagValues, tlsFiles, tlsOption } from "./tls-flags.js";

/** The daemon's settings, from flags first, then POWERSTRIP_<NAME> environment variables. */
export interface ProxyConfig {
  listen: string[];
  docker: string;
  admin: string;
  stateDir: string;
  /** The boot list: images, each with the grants written after it (`acme/set --allow-docker`). */
  adapters: BootEntry[];
  /** How long an adapter container may take to listen on its socket, in ms. */
  adapterStartTimeoutMs: number;
  /** Largest body read whole for hooks, in bytes. */
  maxBodyBytes: number;
  /** On SIGTERM, how long calls in flight may take to finish before they are cut, in ms. */
  shutdownTimeoutMs: number;
  socketGroup: string | undefined;
  socketMode: number;
  /** A loopback TCP address to serve GET /metrics on, besides the admin socket. */
  metrics: string | undefined;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** TLS for the tcp:// listeners (--tls, --tlsverify and the PEM files), or undefined for none. */
  tls: TlsFiles | undefined;
}

export const DEFAULTS = {
  listen: "unix:///run/powerstrip/docker.sock",
  docker: "unix:///var/run/docker.sock",
  admin: "unix:///run/powerstrip/admin.sock",
  stateDir: "/var/lib/powerstrip",
  adapterStartTimeoutS: 15,
  maxBodyBytes: 16 * 1024 * 1024,
  shutdownTimeoutS: 10,
} as const;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseBytes(value: string): number {
  const match = /^(\d+)([KMG]i?B?)?$/i.exec(value);
  if (!match) throw new Error(`invalid size ${JSON.stringify(value)} (expected bytes, or e.g. 16MiB)`);
  const unit = (match[2] ?? "").charAt(0).toUpperCase();
  const scale = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  const bytes = Number(match[1]) * scale;
  if (bytes < 1024) throw new Error(`invalid size ${JSON.stringify(value)} (at least 1KiB)`);
  return bytes;
}

function parseSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > 3600) {
    throw new Error(`invalid timeout ${JSON.stringify(value)} (expected seconds, e.g. 15)`);
  }
  return Math.round(Number(value) * 1000);
}

/** Like dockerd's --shutdown-timeout: seconds, and 0 cuts every connection at once. */
function parseShutdownSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > 3600) {
    throw new Error(`invalid shutdown timeout ${JSON.stringify(value)} (expected seconds, 0 to 3600)`);
  }
  return Math.round(Number(value) * 1000);
}

const TRUE = ["true", "1", "yes"];
const FALSE = ["false", "0", "no", ""];

/** A boolean environment variable: true, 1, yes; false, 0, no or empty; anything else is refused. */
export function envBoolean(name: string, value: string): boolean {
  const text = value.trim().toLowerCase();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  throw new Error(
    `invalid ${name}=${JSON.stringify(value)} (expected true, 1 or yes; false, 0, no or empty)`,
  );
}

function parseMetricsAddress(value: string): string {
  checkMetricsAddress(value);
  return value;
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
      new Option(
        "--state-dir <dir>",
        "where the adapter set (adapters.json) and adapters' sockets (run/) are kept",
      )
        .default(DEFAULTS.stateDir)
        .env("POWERSTRIP_STATE_DIR"),
    )
    .addOption(
      new Option(
        "--adapters <images>",
        "adapter images to load at boot, space-separated, besides the persisted set; an image may be followed by --allow-docker and --allow-credentials, as for powerstrip load",
      ).env("POWERSTRIP_ADAPTERS"),
    )
    .addOption(
      new Option(
        "--adapter-start-timeout <seconds>",
        "how long an adapter container may take to listen on its socket",
      )
        .default(DEFAULTS.adapterStartTimeoutS * 1000, String(DEFAULTS.adapterStartTimeoutS))
        .argParser(parseSeconds)
        .env("POWERSTRIP_ADAPTER_START_TIMEOUT"),
    )
    .addOption(
      new Option("--max-body-bytes <size>", "largest body read whole for hooks (bigger hooked calls get 413)")
        .default(DEFAULTS.maxBodyBytes, "16MiB")
        .argParser(parseBytes)
        .env("POWERSTRIP_MAX_BODY_BYTES"),
    )
    .addOption(
      new Option(
        "--shutdown-timeout <seconds>",
        "on SIGTERM, how long calls in flight may run before they are cut (streams and attach included)",
      )
        .default(DEFAULTS.shutdownTimeoutS * 1000, String(DEFAULTS.shutdownTimeoutS))
        .argParser(parseShutdownSeconds)
        .env("POWERSTRIP_SHUTDOWN_TIMEOUT"),
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
    .addOption(tlsOption("tls"))
    .addOption(tlsOption("tlsverify"))
    .addOption(tlsOption("tlscacert"))
    .addOption(tlsOption("tlscert"))
    .addOption(tlsOption("tlskey"))
    .addOption(
      new Option(
        "--metrics <address>",
        "also serve Prometheus metrics (GET /metrics) on tcp://127.0.0.1:PORT (loopback only; the admin socket always serves them)",
      )
        .argParser(parseMetricsAddress)
        .env("POWERSTRIP_METRICS"),
    )
    .addOption(
      new Option("--log-format <format>", "text (one readable line each) or json (pino, for log shippers)")
        .choices(LOG_FORMATS)
        .default("text")
        .env("POWERSTRIP_LOG_FORMAT"),
    )
    .addOption(
      new Option("--log-level <level>", "debug adds every hook call and pass-through call")
        .choices(LOG_LEVELS)
        .default("info")
        .env("POWERSTRIP_LOG_LEVEL"),
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
  // commander turns a boolean flag on when its variable is set at all (POWERSTRIP_TLS=false
  // included): read the value instead.
  for (const option of command.options) {
    const key = option.attributeName();
    if (option.envVar === undefined || !option.isBoolean() || command.getOptionValueSource(key) !== "env")
      continue;
    command.setOptionValueWithSource(key, envBoolean(option.envVar, env[option.envVar] ?? ""), "env");
  }
  const options = command.opts<
    {
      listen?: string[] | string;
      docker: string;
      admin: string;
      stateDir: string;
      adapters?: string;
      adapterStartTimeout: number;
      maxBodyBytes: number;
      shutdownTimeout: number;
      socketGroup?: string;
      socketMode: number;
      metrics?: string;
      logFormat: LogFormat;
      logLevel: LogLevel;
    } & TlsFlagValues
  >();
  // POWERSTRIP_LISTEN holds one or more addresses separated by spaces (commander hands the env
  // value to the flag's parser as one value); no address contains a space.
  const given = typeof options.listen === "string" ? [options.listen] : (options.listen ?? [DEFAULTS.listen]);
  const listen = given.flatMap((value) => value.split(/\s+/).filter(Boolean));
  return {
    listen,
    docker: options.docker,
    admin: options.admin,
    stateDir: options.stateDir,
    adapters: parseBootList(options.adapters ?? ""),
    adapterStartTimeoutMs: options.adapterStartTimeout,
    maxBodyBytes: options.maxBodyBytes,
    shutdownTimeoutMs: options.shutdownTimeout,
    socketGroup: options.socketGroup,
    socketMode: options.socketMode,
    metrics: options.metrics,
    logFormat: options.logFormat,
    logLevel: options.logLevel,
    tls: tlsFiles(options, listen),
  };
}
