// Engine-test support: tiny adapter images built from powerstrip/base-node, and a real image
// registry on loopback. Every image carries the run's test label, and containers inherit it, so
// the engine teardown finds whatever a test leaves.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE_IMAGE, RUN_LABEL } from "@powerstrip/test-support";

/**
 * A v2 adapter written by hand with node:http (no SDK), steered by its environment:
 * - MODE: serve (default) | exit (exits 3 at start, logging why) | silent (never listens) |
 *   refuse (answers the handshake 400);
 * - DECLARE: the name it declares when the proxy sends none;
 * - DENY_IMAGE: its pre-hook on POST /containers/create denies that image; every other container
 *   gets the label io.powerstrip.seen=<its name>.
 */
export const ADAPTER_SCRIPT = `
import { createServer } from "node:http";
import { unlinkSync } from "node:fs";
const socket = process.env.POWERSTRIP_ADAPTER_SOCKET;
const mode = process.env.MODE ?? "serve";
let name = process.env.DECLARE ?? "test-adapter";
console.log("test adapter: mode " + mode + " on " + socket);
process.on("SIGTERM", () => { console.log("test adapter: SIGTERM"); process.exit(0); });
if (mode === "exit") {
  console.error("test adapter: fatal: no configuration given");
  process.exit(3);
} else if (mode === "silent") {
  setInterval(() => {}, 1 << 30);
} else {
  try { unlinkSync(socket); } catch {}
  createServer((req, res) => {
    let text = "";
    req.on("data", (c) => { text += c; });
    req.on("end", () => {
      const body = JSON.parse(text || "{}");
      const reply = (status, value) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (req.url === "/powerstrip/handshake") {
        if (mode === "refuse") return reply(400, { message: "test adapter: LABEL must be set" });
        name = body.name ?? name;
        console.log("test adapter: handshake as " + name);
        return reply(200, { version: "2", name, hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }] });
      }
      const create = (body.request && body.request.body) || {};
      console.error("test adapter: hooked " + body.hook);
      if (process.env.DENY_IMAGE && create.Image === process.env.DENY_IMAGE) {
        return reply(200, { action: "deny", status: 403, message: name + ": " + create.Image + " is not allowed" });
      }
      return reply(200, { action: "rewrite", body: { ...create, Labels: { ...create.Labels, "io.powerstrip.seen": name } } });
    });
  }).listen(socket, () => console.log("test adapter: listening"));
}
`;

const DOCKERFILE = `ARG BASE_IMAGE=node:20-bookworm-slim
FROM \${BASE_IMAGE}
ARG DECLARE=test-adapter
ENV DECLARE=\${DECLARE}
COPY adapter.mjs /adapter.mjs
CMD ["node", "/adapter.mjs"]
`;

/** The engine itself, never a proxy under test. */
const ENGINE_ENV = {
  ...process.env,
  DOCKER_HOST: "unix:///var/run/docker.sock",
  DOCKER_BUILDKIT: "0",
  DOCKER_CLI_HINTS: "false",
};

/** Runs the docker CLI against the engine; rejects with its output when it fails. */
export function engineDocker(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { env: ENGINE_ENV, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c;
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`docker ${args.join(" ")} exited ${code}: ${err.trim()}`));
    });
  });
}

/**
 * Builds the test adapter as `tag`, declaring `declare` unless the proxy names it. Labelled with
 * this run's test label, which its containers inherit.
 */
export async function buildAdapterImage(tag: string, declare: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pst-adapter-image-"));
  try {
    await writeFile(join(dir, "adapter.mjs"), ADAPTER_SCRIPT);
    await writeFile(join(dir, "Dockerfile"), DOCKERFILE);
    await engineDocker([
      "build",
      "-q",
      "--build-arg",
      `BASE_IMAGE=${BASE_IMAGE}`,
      "--build-arg",
      `DECLARE=${declare}`,
      "--label",
      RUN_LABEL,
      "-t",
      tag,
      dir,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `tag`: `from` plus one small layer of its own, so that once it is removed locally, a pull has a
 * layer to download (and reports it).
 */
export async function buildLayeredImage(from: string, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pst-layered-image-"));
  try {
    await writeFile(join(dir, "layer.txt"), `${tag}\n`);
    await writeFile(join(dir, "Dockerfile"), `FROM ${from}\nCOPY layer.txt /layer.txt\n`);
    await engineDocker(["build", "-q", "--label", RUN_LABEL, "-t", tag, dir]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A port nothing listens on right now (and a registry can take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Registry {
  /** `localhost:PORT`: dockerd pushes and pulls it without TLS (127.0.0.0/8 is insecure by default). */
  host: string;
  close(): Promise<void>;
}

/** Debian's docker-registry (distribution 2.8) on loopback, with a temp filesystem root. */
export async function startRegistry(): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), "pst-registry-"));
  const port = await freePort();
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: `localhost:${port}`,
    async close() {
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Removes images by tag from the engine (missing ones are fine). */
export async function removeImages(...tags: string[]): Promise<void> {
  for (const tag of tags) await engineDocker(["image", "rm", "-f", tag]).catch(() => {});
}

/** Removes every container of an adapter, by its label (missing ones are fine). */
export async function removeAdapterContainers(name: string): Promise<void> {
  const ids = (await engineDocker(["ps", "-aq", "--filter", `label=io.powerstrip.adapter=${name}`]))
    .split("\n")
    .filter(Boolean);
  if (ids.length > 0) await engineDocker(["rm", "-f", ...ids]).catch(() => {});
}
