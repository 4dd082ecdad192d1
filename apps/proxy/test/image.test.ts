import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineAdapter, serve } from "@powerstrip/adapter-sdk";
import { validateHandshakeReply } from "@powerstrip/protocol";
import {
  BASE_IMAGE,
  type CliResult,
  containerFlags,
  DIRECT_SOCKET,
  removeLabelled,
  runClient,
  succeeded,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImages, IMAGES } from "../../../tools/images/build-images.mjs";
import packageJson from "../package.json" with { type: "json" };

// The images Powerstrip ships, as users run them: the proxy with the Docker socket and host
// directories mounted (at the same paths inside and outside), and each example adapter answering
// the handshake on a socket in a mounted directory.

const PROXY_IMAGE = "powerstrip/proxy:latest";
/** The `powerstrip` command from its sources (tests never run stale builds). */
const POWERSTRIP_CLI = join(import.meta.dirname, "..", "..", "..", "packages", "cli", "src", "main.ts");
const EXAMPLE_IMAGES = IMAGES.map((i) => i.name).filter((n) => n.startsWith("powerstrip/example-"));
const dirs: string[] = [];

/** The engine itself (never a proxy): these tests start and inspect containers directly. */
const engine = (args: string[]): Promise<CliResult> => runClient("docker", DIRECT_SOCKET, args);

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Resolves once the container's output (stdout or stderr) matches; rejects if it exits first. */
function waitForLog(container: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const child = spawn("docker", ["logs", "--follow", container], {
    env: { ...process.env, DOCKER_HOST: `unix://${DIRECT_SOCKET}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const matched = new Promise<string>((resolve, reject) => {
    const check = (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) resolve(text);
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.once("close", () =>
      reject(new Error(`${container} stopped before its output matched ${pattern}:\n${text}`)),
    );
  });
  return withTimeout(matched, timeoutMs, `${container} to log ${pattern}`).finally(() => child.kill());
}

/** Stops the container with SIGTERM alone and resolves with its exit code and how long it took. */
async function terminate(container: string): Promise<{ code: number; ms: number }> {
  const started = Date.now();
  succeeded(await engine(["kill", "--signal", "TERM", container]));
  const waited = succeeded(await engine(["wait", container]));
  return { code: Number(waited.stdout.toString().trim()), ms: Date.now() - started };
}

/** POST `path` with a JSON body over a unix socket; resolves with the status and parsed body. */
function postJson(
  socketPath: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch (error) {
            reject(
              new Error(`${path} answered ${res.statusCode} with non-JSON ${JSON.stringify(text)}: ${error}`),
            );
          }
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  // Builds the bundles (nx, cached) and the images whose content changed; seconds when none did.
  await ensureImages([PROXY_IMAGE.replace(/:latest$/, ""), ...EXAMPLE_IMAGES]);
});

afterAll(async () => {
  await removeLabelled();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("powerstrip/proxy", () => {
  it("is the bundle on node alone (no npm; node_modules holds only koffi, native), labelled with its version", async () => {
    const inspect = succeeded(
      await engine(["image", "inspect", "--format", "{{json .Config.Labels}}", PROXY_IMAGE]),
    );
    expect(JSON.parse(inspect.stdout.toString())).toMatchObject({
      "org.opencontainers.image.title": "powerstrip-proxy",
      "org.opencontainers.image.version": packageJson.version,
    });
    const check =
      'command -v npm || echo "no npm"; find / -xdev -name node_modules -not -path "/app/*"; ls /app /app/node_modules';
    const listing = succeeded(
      await engine([
        "run",
        "--rm",
        ...containerFlags(uniqueName("proxy-files")),
        "--network",
        "none",
        "--entrypoint",
        "sh",
        PROXY_IMAGE,
        "-c",
        check,
      ]),
    );
    expect(listing.stdout.toString()).toBe(
      "no npm\n/app:\nnode_modules\npowerstrip-proxy.mjs\n\n/app/node_modules:\n@koromix\nkoffi\n",
    );
  });

  it("prints its usage with --help (flags after the image go to the daemon)", async () => {
    const help = succeeded(
      await engine([
        "run",
        "--rm",
        ...containerFlags(uniqueName("proxy-help")),
        "--network",
        "none",
        PROXY_IMAGE,
        "--help",
      ]),
    );
    expect(help.stdout.toString()).toMatch(/^Usage: powerstrip-proxy \[options\]/);
  });

  describe("running with the Docker socket and a host directory mounted at the same path", () => {
    const name = uniqueName("proxy");
    let dir: string;
    let socket: string;

    beforeAll(async () => {
      dir = tempDir("pst-proxy-image-");
      socket = join(dir, "docker.sock");
      mkdirSync(join(dir, "state"));
      succeeded(
        await engine([
          "run",
          "--detach",
          ...containerFlags(name),
          "--volume",
          `${DIRECT_SOCKET}:/var/run/docker.sock`,
          "--volume",
          `${dir}:${dir}`,
          PROXY_IMAGE,
          "--listen",
          `unix://${socket}`,
          "--admin",
          `unix://${join(dir, "admin.sock")}`,
          "--state-dir",
          join(dir, "state"),
        ]),
      );
      await waitForLog(name, /listening on/);
    });

    it("creates its sockets on the host: the client socket 0660 in the group of docker.sock, admin 0600", () => {
      const client = statSync(socket);
      expect(client.isSocket()).toBe(true);
      expect(client.mode & 0o777).toBe(0o660);
      expect(client.gid).toBe(statSync(DIRECT_SOCKET).gid);
      expect(statSync(join(dir, "admin.sock")).mode & 0o777).toBe(0o600);
    });

    it("serves the docker CLI on the host: docker ps, docker run", async () => {
      const ps = succeeded(
        await runClient("docker", socket, ["ps", "--filter", `name=${name}`, "--format", "{{.Names}}"]),
      );
      expect(ps.stdout.toString()).toBe(`${name}\n`);
      const hi = succeeded(
        await runClient("docker", socket, [
          "run",
          "--rm",
          ...containerFlags(uniqueName("hi")),
          BASE_IMAGE,
          "echo",
          "hi",
        ]),
      );
      expect(hi.stdout.toString()).toBe("hi\n");
    });

    it("loads an adapter image from the host's `powerstrip load`, and its hooks run", async () => {
      // The adapter container mounts its socket directory from under the state dir, by the path
      // the proxy sees: the same path on the host, as the README asks.
      const adapter = uniqueName("labels");
      const powerstrip = (...args: string[]) =>
        runClient(process.execPath, socket, [
          "--conditions=source",
          "--import",
          "tsx",
          POWERSTRIP_CLI,
          "--admin",
          `unix://${join(dir, "admin.sock")}`,
          ...args,
        ]);
      try {
        const loaded = succeeded(
          await powerstrip("load", "powerstrip/example-label-injector", "--name", adapter, "--json"),
        );
        expect(JSON.parse(loaded.stdout.toString())).toMatchObject({ name: adapter, state: "ready" });
        const created = uniqueName("labelled");
        succeeded(
          await runClient("docker", socket, ["create", ...containerFlags(created), BASE_IMAGE, "true"]),
        );
        const labels = succeeded(await engine(["inspect", "--format", "{{json .Config.Labels}}", created]));
        expect(JSON.parse(labels.stdout.toString())).toMatchObject({ "io.powerstrip.injected": "true" });
        succeeded(await powerstrip("unload", adapter));
        const left = succeeded(
          await engine(["ps", "--all", "--quiet", "--filter", `label=io.powerstrip.adapter=${adapter}`]),
        );
        expect(left.stdout.toString()).toBe("");
      } finally {
        await removeLabelled(`io.powerstrip.adapter=${adapter}`);
      }
    });

    it("tells adapters the unix peer's uid and gid (SO_PEERCRED through koffi in the image)", async () => {
      const calls: { client?: unknown }[] = [];
      const adapter = uniqueName("peer");
      const running = await serve(
        defineAdapter({
          name: adapter,
          hooks: {
            "GET /containers/json": {
              pre(ctx) {
                calls.push({ client: ctx.client });
              },
            },
          },
        }),
        {
          socket: join(dir, "peer.sock"),
          handleSignals: false,
          logger: { info() {}, warn() {}, error() {} },
        },
      );
      const powerstrip = (...args: string[]) =>
        runClient(process.execPath, socket, [
          "--conditions=source",
          "--import",
          "tsx",
          POWERSTRIP_CLI,
          "--admin",
          `unix://${join(dir, "admin.sock")}`,
          ...args,
        ]);
      try {
        succeeded(await powerstrip("load", "--url", `unix://${join(dir, "peer.sock")}`));
        succeeded(await runClient("docker", socket, ["ps", "--quiet"]));
        // The docker CLI runs as this test's user; its pid is in another pid namespace, so left out.
        expect(calls).toEqual([
          { client: { transport: "unix", uid: process.getuid!(), gid: process.getgid!() } },
        ]);
        succeeded(await powerstrip("unload", adapter));
      } finally {
        await running.close();
      }
    });

    it("stops on SIGTERM promptly with exit 0, removing its sockets", async () => {
      const { code, ms } = await terminate(name);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5_000);
      expect(() => statSync(socket)).toThrow();
      succeeded(await engine(["rm", name]));
    });
  });
});

describe.each(EXAMPLE_IMAGES)("%s", (image) => {
  it("answers the handshake on POWERSTRIP_ADAPTER_SOCKET in a mounted directory, and stops on SIGTERM", async () => {
    const dir = tempDir("pst-example-image-");
    const name = uniqueName("example");
    succeeded(
      await engine([
        "run",
        "--detach",
        ...containerFlags(name),
        "--network",
        "none",
        "--volume",
        `${dir}:/run/powerstrip`,
        "--env",
        "POWERSTRIP_ADAPTER_SOCKET=/run/powerstrip/adapter.sock",
        `${image}:latest`,
      ]),
    );
    // `<time> <adapter name> info: listening on unix:///run/powerstrip/adapter.sock`
    const log = await waitForLog(name, /listening on unix:\/\/\/run\/powerstrip\/adapter\.sock/);
    const declared = log.match(/^\S+ (\S+) info: listening on/m)?.[1];

    const reply = await postJson(join(dir, "adapter.sock"), "/powerstrip/handshake", {
      protocol: "powerstrip",
      versions: ["2"],
      proxy: { version: "0.1.0" },
    });
    expect(reply.status).toBe(200);
    const valid = validateHandshakeReply(reply.body);
    expect(valid.ok, JSON.stringify(valid)).toBe(true);
    expect(reply.body).toMatchObject({ version: "2", name: declared });

    const { code, ms } = await terminate(name);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
  });
});
