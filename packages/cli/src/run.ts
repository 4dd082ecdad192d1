import { readFile } from "node:fs/promises";
import type { AdapterInfo, LoadRequest } from "@powerstrip/protocol";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import packageJson from "../package.json" with { type: "json" };
import { AdminClient, DEFAULT_ADMIN_ADDRESS, type PullProgress } from "./admin-client.js";
import { defaultDockerPluginPath, installDockerPlugin } from "./docker-plugin.js";
import { AdminClientError, AdminClientErrorCode, UsageError } from "./errors.js";
import { formatAdapter, formatAdapterTable } from "./format.js";
import { formatTraceEvent, watchTrace } from "./trace.js";

/** Where the command writes, and the environment it reads (`POWERSTRIP_ADMIN`). */
export interface RunIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  /** The clock `ls` and `inspect` measure "since" against (tests pin it). */
  now?: () => Date;
  /** Makes the admin client (tests pass options through it). */
  client?: (address: string) => AdminClient;
  /** Stops `logs --follow` and `trace` (the command line stops them with Ctrl-C). */
  signal?: AbortSignal;
  /** The `docker-powerstrip` program to install (default: the one beside the running command). */
  dockerPluginPath?: string;
}

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;

const COMMANDS = "load, unload, ls, inspect, logs, trace, reload, import, install-docker-plugin";

/**
 * The `powerstrip` command: parses `argv` (without the node and script paths), talks to the admin
 * API, writes to `stdout`, and returns the exit code. Every failure is one line on stderr,
 * `powerstrip: <message>`: exit 1, or 2 when the command line itself is wrong.
 */
export async function run(argv: readonly string[], io: RunIo): Promise<number> {
  const out = (text: string) => io.stdout.write(text);
  const json = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
  const now = () => (io.now ?? (() => new Date()))();
  const program = buildProgram(out);
  const client = () => {
    const address =
      program.opts<{ admin?: string }>().admin ?? io.env.POWERSTRIP_ADMIN ?? DEFAULT_ADMIN_ADDRESS;
    return io.client ? io.client(address) : new AdminClient(address);
  };

  program
    .command("load")
    .description("load an adapter and hook it in; returns once its hooks are live")
    .argument("[image]", "an adapter image: pulled when missing, run in a container powerstrip-NAME")
    .option("--url <url>", "a running adapter: unix:///absolute/path.sock or http://127.0.0.1:PORT")
    .option("--name <name>", "the name to load it under (overrides the one it declares)")
    .addOption(
      new Option(
        "-e, --env <KEY=VALUE>",
        "environment for an image adapter's container, repeatable (KEY alone takes it from here)",
      ).argParser(collect),
    )
    .option("--network <mode>", "the network mode of an image adapter's container (default none)")
    .option(
      "--priority <n>",
      "overrides its priority (0-10000; lower runs first on the way in)",
      parsePriority,
    )
    .option("--legacy", "a 2015 ClusterHQ adapter: no handshake, v1 messages, hooks given with --hook")
    .addOption(
      new Option("--hook <hook>", 'a legacy hook, repeatable: "pre:POST /*/containers/create"').argParser(
        collect,
      ),
    )
    .option(
      "--shadow",
      "shadow mode: call its hooks but discard their effects; `powerstrip trace` and the metrics show what it would have done",
    )
    .option(
      "--allow-credentials",
      "send it the clients' Authorization, X-Registry-Auth and X-Registry-Config headers, if it asks for them",
    )
    .option(
      "--allow-docker",
      "give a loader image (label io.powerstrip.loader=true) the Docker engine's socket, which is control of this host",
    )
    .option("-q, --quiet", "do not show pull progress")
    .option("--json", "print the loaded adapter as JSON")
    .action(async (image: string | undefined, opts: LoadOptions) => {
      const request = loadRequest(image, opts, io.env);
      const info = await client().load(request, opts.quiet ? undefined : progressPrinter(io.stderr));
      if (opts.json) json(info);
      else out(`loaded ${describe(info)}${info.shadow ? " in shadow mode" : ""}${credentialsNote(info)}\n`);
    });

  program
    .command("reload")
    .description(
      "load an adapter again with the options it was loaded with (an image adapter gets a new container)",
    )
    .argument("<name>", "the adapter's name")
    .option("-q, --quiet", "do not show pull progress")
    .option("--json", "print the reloaded adapter as JSON")
    .action(async (name: string, opts: { quiet?: boolean; json?: boolean }) => {
      const info = await client().reload(name, opts.quiet ? undefined : progressPrinter(io.stderr));
      if (opts.json) json(info);
      else out(`reloaded ${describe(info)}\n`);
    });

  program
    .command("logs")
    .description("print the output of an image adapter's container (its stderr to stderr)")
    .argument("<name>", "the adapter's name")
    .option("-f, --follow", "keep printing until the container stops (or Ctrl-C)")
    .option("-n, --tail <lines>", "only the last LINES lines", parseLines)
    .option("--json", 'print each piece of output as a JSON line {"stream", "text"}')
    .action(async (name: string, opts: { follow?: boolean; tail?: number; json?: boolean }) => {
      const options: { follow?: boolean; tail?: number; signal?: AbortSignal } = {};
      if (opts.follow) options.follow = true;
      if (opts.tail !== undefined) options.tail = opts.tail;
      if (io.signal !== undefined) options.signal = io.signal;
      await client().logs(name, options, (chunk) => {
        if (opts.json) out(`${JSON.stringify(chunk)}\n`);
        else (chunk.stream === "stderr" ? io.stderr : io.stdout).write(chunk.text);
      });
    });

  program
    .command("trace")
    .description(
      "watch every hook call live: adapter, stage, decision, duration, what it changed (until Ctrl-C)",
    )
    .addOption(new Option("--adapter <name>", "only this adapter's calls, repeatable").argParser(collect))
    .option("--path <prefix>", "only calls whose path starts with PREFIX, e.g. /containers")
    .option("--json", "print each event as a JSON line (the TraceEvent schema of @powerstrip/protocol)")
    .action(async (opts: { adapter?: string[]; path?: string; json?: boolean }) => {
      if (opts.path !== undefined && !opts.path.startsWith("/")) {
        throw new UsageError(`--path ${opts.path}: a path starts with /, e.g. --path /containers`);
      }
      const address = client().address;
      await watchTrace(
        address,
        {
          ...(opts.adapter !== undefined ? { adapters: opts.adapter } : {}),
          ...(opts.path !== undefined ? { path: opts.path } : {}),
          ...(io.signal !== undefined ? { signal: io.signal } : {}),
          onOpen: () => io.stderr.write(`tracing hook calls at ${address} (Ctrl-C to stop)\n`),
        },
        (event) => out(opts.json ? `${JSON.stringify(event)}\n` : formatTraceEvent(event)),
      );
    });

  program
    .command("unload")
    .description("unhook an adapter (after the calls it is handling) and unload it")
    .argument("<name>", "the adapter's name")
    .action(async (name: string) => {
      await client().unload(name);
      out(`unloaded ${name}\n`);
    });

  program
    .command("ls")
    .description("list the adapters, in the order their pre-hooks run")
    .option("--json", "print a JSON array")
    .action(async (opts: { json?: boolean }) => {
      const adapters = await client().list();
      if (opts.json) json(adapters);
      else out(formatAdapterTable(adapters, now()));
    });

  program
    .command("inspect")
    .description("show one adapter: source, state, hooks, priority, failure policy, timeout")
    .argument("<name>", "the adapter's name")
    .option("--json", "print it as JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      const adapter = await client().inspect(name);
      if (opts.json) json(adapter);
      else out(formatAdapter(adapter, now()));
    });

  program
    .command("import")
    .description("load the adapters of a 2015 adapters.yml as legacy adapters (all or nothing)")
    .argument("<file>", "the adapters.yml")
    .addOption(
      new Option("--at <name=url>", "where adapter NAME listens on this host, repeatable").argParser(collect),
    )
    .option("--json", "print the loaded adapters as a JSON array")
    .action(async (file: string, opts: { at?: string[]; json?: boolean }) => {
      const at = parseAt(opts.at ?? []);
      const doc = await readYaml(file);
      const loaded = await client().importLegacyFile(doc, at);
      if (opts.json) json(loaded);
      else for (const info of loaded) out(`loaded ${describe(info)}\n`);
    });

  program
    .command("install-docker-plugin")
    .description(
      "install docker-powerstrip into ~/.docker/cli-plugins, so that `docker powerstrip COMMAND` works",
    )
    .option("--force", "replace a docker-powerstrip that powerstrip did not write")
    .action(async (opts: { force?: boolean }) => {
      const installed = await installDockerPlugin({
        pluginPath: io.dockerPluginPath ?? (await defaultDockerPluginPath()),
        home: io.env.HOME,
        dockerConfig: io.env.DOCKER_CONFIG,
        force: opts.force === true,
      });
      out(`${installed.message}\n`);
    });
  (await import("./new-adapter.js")).addNewCommand(program, io);

  try {
    if (argv.length === 0) throw new UsageError(`a command is required: ${COMMANDS} (see powerstrip --help)`);
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.Ok; // --help, --version
      const message =
        error.code === "commander.help"
          ? `a command is required: ${COMMANDS} (see powerstrip --help)`
          : error.message.replace(/^error: /, "");
      return fail(io, message, ExitCode.Usage);
    }
    if (error instanceof UsageError) return fail(io, error.message, ExitCode.Usage);
    if (error instanceof AdminClientError && error.code === AdminClientErrorCode.InvalidAddress) {
      return fail(io, error.message, ExitCode.Usage);
    }
    return fail(io, error instanceof Error ? error.message : String(error), ExitCode.Failed);
  }
}

interface LoadOptions {
  url?: string;
  name?: string;
  env?: string[];
  network?: string;
  priority?: number;
  legacy?: boolean;
  hook?: string[];
  quiet?: boolean;
  json?: boolean;
  shadow?: boolean;
  allowCredentials?: boolean;
  allowDocker?: boolean;
}

function buildProgram(out: (text: string) => void): Command {
  return (
    new Command("powerstrip")
      // Help goes to stdout; commander's own error output is replaced by one line (see run).
      // Set first: subcommands inherit it when they are created.
      .configureOutput({ writeOut: out, writeErr: () => {}, outputError: () => {} })
      .description("Load, unload and inspect the adapters of a running Powerstrip proxy")
      .version(packageJson.version, "-v, --version", "print the version")
      .addOption(
        new Option(
          "--admin <address>",
          `the admin API: unix:///path.sock or tcp://127.0.0.1:PORT (env POWERSTRIP_ADMIN, default ${DEFAULT_ADMIN_ADDRESS})`,
        ),
      )
      .helpOption("-h, --help", "show help")
      .showSuggestionAfterError(true)
      .exitOverride()
      .configureHelp({ sortSubcommands: false })
      .addHelpText(
        "after",
        `\nExamples:\n  powerstrip load acme/label-injector:1.0 --env LOG_LEVEL=debug\n  powerstrip load --url unix:///run/powerstrip/adapters/labels.sock\n  powerstrip load --legacy --url http://127.0.0.1:8080/v1/extension --name flocker --hook "pre:POST /*/containers/create"\n  powerstrip import adapters.yml --at flocker=http://127.0.0.1:8080/flocker-adapter\n  powerstrip ls\n  powerstrip logs -f label-injector\n  powerstrip load --shadow acme/deny-privileged:1 && powerstrip trace --adapter deny-privileged\n  powerstrip reload label-injector\n  powerstrip unload labels\n`,
      )
  );
}

function loadRequest(
  image: string | undefined,
  opts: LoadOptions,
  env: Record<string, string | undefined>,
): LoadRequest {
  const hooks = opts.hook ?? [];
  if (image !== undefined && opts.url !== undefined) {
    throw new UsageError("load takes an IMAGE or --url URL, not both");
  }
  if (image === undefined && opts.url === undefined) {
    throw new UsageError("load needs an IMAGE or --url URL");
  }
  if (opts.url !== undefined && opts.env !== undefined) {
    throw new UsageError(
      "--env is only for image adapters: Powerstrip does not run an adapter loaded by --url",
    );
  }
  if (opts.url !== undefined && opts.network !== undefined) {
    throw new UsageError(
      "--network is only for image adapters: Powerstrip does not run an adapter loaded by --url",
    );
  }
  if (image !== undefined && opts.legacy) {
    throw new UsageError("--legacy adapters are loaded with --url, not from an image");
  }
  if (hooks.length > 0 && !opts.legacy) {
    throw new UsageError("--hook is only for legacy adapters: add --legacy");
  }
  if (opts.legacy && hooks.length === 0) {
    throw new UsageError(
      'load --legacy needs at least one --hook, e.g. --hook "pre:POST /*/containers/create"',
    );
  }
  if (opts.legacy && opts.url === undefined) throw new UsageError("load --legacy needs --url");
  if (opts.url !== undefined && opts.allowDocker) {
    throw new UsageError(
      "--allow-docker is only for image adapters: Powerstrip does not run an adapter loaded by --url",
    );
  }
  if (opts.legacy && opts.allowCredentials) {
    throw new UsageError(
      "--allow-credentials is not for --legacy adapters: the 2015 messages carry no headers, so there is nothing to allow",
    );
  }
  const request: LoadRequest = image !== undefined ? { image } : { url: opts.url! };
  if (opts.name !== undefined) request.name = opts.name;
  if (opts.env !== undefined) request.env = parseEnv(opts.env, env);
  if (opts.network !== undefined) request.network = opts.network;
  if (opts.priority !== undefined) request.priority = opts.priority;
  if (opts.shadow) request.shadow = true;
  if (opts.allowCredentials) request.allowCredentials = true;
  if (opts.allowDocker) request.allowDocker = true;
  if (opts.legacy) {
    request.legacy = true;
    request.hooks = hooks;
  }
  return request;
}

/** `--env KEY=VALUE`, or `--env KEY` to pass this environment's value (as `docker run -e` does). */
function parseEnv(values: string[], env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    const key = eq === -1 ? value : value.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(
        `--env ${value}: expected KEY=VALUE (KEY: letters, digits and _, not starting with a digit)`,
      );
    }
    if (eq === -1) {
      const here = env[key];
      if (here === undefined)
        throw new UsageError(`--env ${key}: ${key} is not set here; give it a value with --env ${key}=VALUE`);
      result[key] = here;
    } else {
      result[key] = value.slice(eq + 1);
    }
  }
  return result;
}

/** Pull progress on stderr: one line each time a layer's status changes. */
function progressPrinter(stderr: RunIo["stderr"]): (progress: PullProgress) => void {
  const last = new Map<string, string>();
  return (progress) => {
    const key = progress.id ?? "";
    if (last.get(key) === progress.status) return;
    last.set(key, progress.status);
    stderr.write(`${progress.id ? `${progress.id}: ` : ""}${progress.status}\n`);
  };
}

function parseLines(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError("expected a number of lines");
  return Number(value);
}

function parseAt(values: string[]): Record<string, string> {
  const at: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq <= 0 || eq === value.length - 1) {
      throw new UsageError(
        `--at ${value}: expected NAME=URL, e.g. --at flocker=http://127.0.0.1:8080/flocker`,
      );
    }
    const name = value.slice(0, eq);
    if (Object.hasOwn(at, name)) throw new UsageError(`--at names ${name} twice`);
    at[name] = value.slice(eq + 1);
  }
  return at;
}

async function readYaml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (code ?? String(error))}`);
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const first = (error as Error).message.split("\n")[0];
    throw new Error(`${file} is not valid YAML: ${first}`);
  }
}

function parsePriority(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 10000) {
    throw new InvalidArgumentError("expected an integer from 0 to 10000");
  }
  return Number(value);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function describe(info: AdapterInfo): string {
  const hooks = `${info.hooks.length} ${info.hooks.length === 1 ? "hook" : "hooks"}`;
  return `${info.name} (${info.kind === "legacy" ? `legacy, ${hooks}` : hooks}) from ${info.source}`;
}

/** What became of the credentials an adapter asks for, when it asks. */
function credentialsNote(info: AdapterInfo): string {
  if (info.credentials === "sent") return "; it receives credentials";
  if (info.credentials === "withheld")
    return "; it asks for credentials, withheld (load it with --allow-credentials to send them)";
  return "";
}

function fail(io: RunIo, message: string, code: number): number {
  // Exactly one line, whatever the message carried.
  io.stderr.write(`powerstrip: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`);
  return code;
}
