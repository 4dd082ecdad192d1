/**
 * The loader: what runs in a `powerstrip/adapter-loader` container. It brings the adapter's
 * docker-compose set up under the project `powerstrip-<name>` (an override file puts the adapter
 * label on everything and gives the hooks service the socket directory), answers the handshake
 * itself when no service serves hooks, watches the set, and brings it down on SIGTERM.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ADAPTER_ENDPOINTS, validateHandshakeReply, validateHandshakeRequest } from "@powerstrip/protocol";
import * as compose from "docker-compose";
import {
  ADAPTER_LABEL,
  ComposeFileError,
  type ComposePlan,
  composeOverride,
  LOADER_IMAGE_LABEL,
  planCompose,
  projectName,
  SOCKET_DIR,
} from "./compose-file.js";
import { type Engine, engineAt, filters } from "./engine.js";

/** Written next to the socket when a start fails: a restarted loader repeats the error, does nothing. */
export const FAILED_MARKER = "loader-failed";
/** The loader's exit code when a service of the set stopped for good (Docker restarts the loader). */
export const EXIT_SET_BROKEN = 3;

export interface LoaderOptions {
  /** The adapter's docker-compose.yml (POWERSTRIP_COMPOSE_FILE). */
  composeFile: string;
  /** The adapter's name (POWERSTRIP_ADAPTER_NAME). */
  name: string;
  /** The adapter socket (POWERSTRIP_ADAPTER_SOCKET), in the directory the host mounted. */
  socketPath: string;
  /** The engine socket the host mounted (default /var/run/docker.sock). */
  dockerSocket?: string;
  /** The environment compose sees (variables for ${...} in the file); default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Resolves when the loader should stop (SIGTERM); default: the process's SIGTERM/SIGINT. */
  stopSignal?: Promise<void>;
  /** Seconds compose gives each container to stop on the way down (default 5). */
  stopTimeoutS?: number;
}

interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Config: { Labels: Record<string, string> | null; Image: string };
  State: { Running: boolean; Restarting: boolean; ExitCode: number; Status: string };
  Mounts: { Source: string; Destination: string }[];
}

/** Runs the loader until it is stopped; resolves with the process exit code. */
export async function runLoader(options: LoaderOptions): Promise<number> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const fail = (message: string) => process.stderr.write(`powerstrip-loader: ${message}\n`);
  const marker = join(dirname(options.socketPath), FAILED_MARKER);
  if (existsSync(marker)) {
    fail(
      `${(await readFile(marker, "utf8")).trim()} (an earlier start failed; powerstrip unload, fix, load again)`,
    );
    return 1;
  }
  // Listened for from the start: a SIGTERM during compose up brings the set down once it is up.
  const stopped = options.stopSignal ?? signalled();
  const engine = engineAt(options.dockerSocket ?? "/var/run/docker.sock");
  const project = projectName(options.name);
  let upStarted = false;
  let ctx: ComposeContext | undefined;
  try {
    const text = await readFile(options.composeFile, "utf8").catch((error: Error) => {
      throw new ComposeFileError(`cannot read ${options.composeFile}: ${error.message}`);
    });
    const plan = planCompose(text, "docker-compose.yml");
    const self = await findSelf(engine, options.name);
    const hostSocketDir = self.Mounts.find((m) => m.Destination === SOCKET_DIR)?.Source;
    if (hostSocketDir === undefined)
      throw new Error(
        `container ${self.Name} has no ${SOCKET_DIR} mount: load this image with powerstrip load`,
      );
    const extraLabels = await inheritedLabels(engine, self);
    ctx = await composeContext(options, plan, {
      hostSocketDir,
      loaderImage: self.Image,
      labels: extraLabels,
    });
    await reapOrphans(engine, ctx, self.Image, options.name, log);
    await ctx.run("config", ["-q"]).catch((error) => {
      throw new ComposeFileError(`docker-compose.yml is invalid: ${composeReason(error)}`);
    });
    await ensureImages(engine, ctx, plan);
    upStarted = true;
    log(`bringing up ${plan.services.map((s) => s.name).join(", ")} as compose project ${project}`);
    await ctx.run("up", ["-d"]).catch((error) => {
      throw new Error(`docker-compose up failed: ${composeReason(error)}`);
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (upStarted && ctx !== undefined) await ctx.down().catch(() => {});
    await writeFile(marker, message).catch(() => {});
    fail(message);
    return 1;
  }
  const plan = ctx.plan;
  let server: Server | undefined;
  if (plan.hooksService === undefined) {
    server = await serveLifecycleOnly(options.socketPath, options.name);
    log(
      `${options.name}: no service is labelled io.powerstrip.hooks=true; a lifecycle-only adapter (it hooks nothing)`,
    );
  } else {
    log(`${options.name}: service ${plan.hooksService} serves the hooks on ${options.socketPath}`);
  }
  let stopping = false;
  const broken = new Promise<string>((resolve) => {
    const watch = engine.stream(
      `/events?filters=${filters({ type: ["container"], event: ["die"], label: [`com.docker.compose.project=${project}`] })}`,
      (event) => {
        const e = event as { Actor?: { ID?: string; Attributes?: Record<string, string> } };
        const id = e.Actor?.ID;
        if (stopping || id === undefined) return;
        void engine.get<ContainerInspect>(`/containers/${id}/json`).then(
          (c) => {
            if (stopping) return;
            const service = e.Actor?.Attributes?.["com.docker.compose.service"] ?? id.slice(0, 12);
            if (c?.State.Restarting || c?.State.Running) {
              log(`service ${service} exited; Docker is restarting it`);
              return;
            }
            resolve(
              `service ${service} (container ${c?.Name.replace(/^\//, "") ?? id.slice(0, 12)}) exited with code ${c?.State.ExitCode ?? "unknown"}`,
            );
          },
          () => {},
        );
      },
      (error) => {
        if (!stopping) resolve(`lost the engine's events${error ? `: ${error.message}` : ""}`);
      },
    );
    stopped.then(() => watch.close());
  });
  const outcome = await Promise.race([stopped.then(() => undefined), broken]);
  stopping = true;
  server?.close();
  if (outcome !== undefined) {
    // Exiting shows the adapter failed in powerstrip ls; Docker restarts the loader (unless-stopped),
    // whose compose up brings the set back.
    fail(
      `${outcome}: the set is incomplete; exiting (the adapter is listed failed until the loader comes back)`,
    );
    return EXIT_SET_BROKEN;
  }
  log(`stopping: bringing down compose project ${project}`);
  try {
    await ctx.down();
  } catch (error) {
    fail(`docker-compose down failed: ${composeReason(error)}`);
    return 1;
  }
  log(`compose project ${project} is down`);
  return 0;
}

interface ComposeContext {
  plan: ComposePlan;
  run(command: string, args: string[]): Promise<compose.IDockerComposeResult>;
  /** compose down (containers, networks, volumes); tried twice (the host may remove containers meanwhile). */
  down(): Promise<void>;
  /** compose down of another adapter's project (no grace period). */
  downProject(project: string): Promise<compose.IDockerComposeResult>;
}

async function composeContext(
  options: LoaderOptions,
  plan: ComposePlan,
  override: { hostSocketDir: string; loaderImage: string; labels: Record<string, string> },
  name = options.name,
): Promise<ComposeContext> {
  const dir = join(tmpdir(), `powerstrip-loader-${name}`);
  await mkdir(dir, { recursive: true });
  const overrideFile = join(dir, "docker-compose.powerstrip.yml");
  await writeFile(overrideFile, JSON.stringify(composeOverride(plan, { name, ...override }), null, 2));
  const executable = await composeExecutable();
  const base: compose.IDockerComposeOptions = {
    cwd: dirname(options.composeFile),
    config: [options.composeFile, overrideFile],
    composeOptions: [["-p", projectName(name)]],
    env: options.env ?? process.env,
    callback: (chunk) => process.stdout.write(chunk),
    ...(executable === undefined ? {} : { executable }),
  };
  const stopTimeout = String(options.stopTimeoutS ?? 5);
  const run = (command: string, args: string[]) => compose.execCompose(command, args, base);
  return {
    plan,
    run,
    async down() {
      const args = ["-v", "--remove-orphans", "-t", stopTimeout];
      try {
        await run("down", args);
      } catch {
        await run("down", args);
      }
    },
    downProject(project: string) {
      // Only the project name matters to down: it works from the containers' labels.
      return compose.execCompose("down", ["-v", "--remove-orphans", "-t", "0"], {
        ...base,
        config: [options.composeFile],
        composeOptions: [["-p", project]],
      });
    },
  };
}

/** The compose v2 plugin when `docker compose` works here; the standalone v1 binary otherwise. */
function composeExecutable(): Promise<compose.IDockerComposeExecutableOptions | undefined> {
  return new Promise((resolve) => {
    execFile("docker", ["compose", "version"], { timeout: 5000 }, (error) =>
      resolve(error ? { standalone: true } : undefined),
    );
  });
}

/** The loader's own container: `powerstrip-<name>`, else by hostname (its short ID). */
async function findSelf(engine: Engine, name: string): Promise<ContainerInspect> {
  const self =
    (await engine.get<ContainerInspect>(`/containers/powerstrip-${encodeURIComponent(name)}/json`)) ??
    (await engine.get<ContainerInspect>(`/containers/${encodeURIComponent(hostname())}/json`));
  if (self === undefined) throw new Error(`cannot find the loader's own container (powerstrip-${name})`);
  return self;
}

/** Labels the host put on the loader's container (its `labels` option), for the set too. */
async function inheritedLabels(engine: Engine, self: ContainerInspect): Promise<Record<string, string>> {
  const image = await engine.get<{ Config: { Labels: Record<string, string> | null } }>(
    `/images/${encodeURIComponent(self.Image)}/json`,
  );
  const fromImage = image?.Config.Labels ?? {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(self.Config.Labels ?? {})) {
    if (key in fromImage || key === ADAPTER_LABEL || key === "io.powerstrip.image") continue;
    out[key] = value;
  }
  return out;
}

/**
 * Sets made by this loader image under another adapter name whose loader container is gone are
 * brought down: the host recreated the loader under the name the hooks service declared, or a
 * killed loader's adapter was unloaded (its networks and volumes stayed).
 */
async function reapOrphans(
  engine: Engine,
  ctx: ComposeContext,
  loaderImage: string,
  name: string,
  log: (line: string) => void,
): Promise<void> {
  const label = filters({ label: [`${LOADER_IMAGE_LABEL}=${loaderImage}`] });
  const [containers, networks, volumes] = await Promise.all([
    engine.get<{ Labels: Record<string, string> | null }[]>(`/containers/json?all=1&filters=${label}`),
    engine.get<{ Labels: Record<string, string> | null }[]>(`/networks?filters=${label}`),
    engine.get<{ Volumes: { Labels: Record<string, string> | null }[] | null }>(`/volumes?filters=${label}`),
  ]);
  const labelled = [...(containers ?? []), ...(networks ?? []), ...(volumes?.Volumes ?? [])];
  const others = new Set(
    labelled.map((o) => o.Labels?.[ADAPTER_LABEL]).filter((n): n is string => !!n && n !== name),
  );
  for (const other of others) {
    if ((await engine.get(`/containers/powerstrip-${encodeURIComponent(other)}/json`)) !== undefined)
      continue;
    log(`bringing down compose project ${projectName(other)}: its loader container is gone`);
    await ctx
      .downProject(projectName(other))
      .catch((error) => log(`could not bring down ${projectName(other)}: ${composeReason(error)}`));
  }
}

/** Every service's image must be here; a missing one is pulled, or the load fails saying which. */
async function ensureImages(engine: Engine, ctx: ComposeContext, plan: ComposePlan): Promise<void> {
  for (const service of plan.services) {
    if (service.image === undefined) continue;
    if ((await engine.get(`/images/${encodeURIComponent(service.image)}/json`)) !== undefined) continue;
    await ctx.run("pull", [service.name]).catch((error) => {
      throw new Error(
        `service ${service.name}: image ${service.image} is not on this host and could not be pulled (${composeReason(error)}); build or load it on the host first`,
      );
    });
  }
}

/** A lifecycle-only adapter's handshake: its name, no hooks. */
async function serveLifecycleOnly(socketPath: string, name: string): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== ADAPTER_ENDPOINTS.handshake) {
        reply(404, { message: `${name} is a lifecycle-only adapter: it hooks nothing` });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        reply(400, { message: "the handshake request is not JSON" });
        return;
      }
      const request = validateHandshakeRequest(body);
      if (!request.ok) {
        reply(400, { message: `invalid handshake request: ${request.errors.join("; ")}` });
        return;
      }
      if (!request.value.versions.includes("2")) {
        reply(400, { message: `${name} speaks protocol version 2 only` });
        return;
      }
      const answer = { version: "2", name: request.value.name ?? name, hooks: [] };
      const checked = validateHandshakeReply(answer);
      if (!checked.ok) reply(500, { message: checked.errors.join("; ") });
      else reply(200, checked.value);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return server;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
}

/** compose's own words (its stderr), on one line. */
export function composeReason(error: unknown): string {
  const e = error as { err?: string; message?: string; exitCode?: number };
  const text = (e?.err ?? e?.message ?? String(error)).trim();
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length === 0 ? `exit code ${e?.exitCode ?? "unknown"}` : lines.slice(-6).join(" | ");
}
