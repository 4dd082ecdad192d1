import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import { installDockerPlugin } from "../src/docker-plugin.js";

// The Docker CLI plugin through the real docker CLI (no engine needed): installed into a temp HOME
// by the installer `powerstrip install-docker-plugin` uses, running the plugin from its sources
// (tests never run stale builds).
const PLUGIN_SOURCE = join(import.meta.dirname, "..", "src", "docker-plugin-main.ts");
const NODE_ARGS = ["--conditions=source", "--import", import.meta.resolve("tsx")];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let home: string;

/** The docker CLI with HOME set to the temp home, and no engine anywhere it could reach. */
function docker(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ["DOCKER_CONFIG", "DOCKER_CONTEXT", "POWERSTRIP_ADMIN"]) delete base[key];
  return new Promise((resolve, reject) => {
    execFile(
      "docker",
      args,
      {
        env: {
          ...base,
          HOME: home,
          DOCKER_HOST: `unix://${join(home, "no-engine.sock")}`,
          DOCKER_CLI_HINTS: "false",
          ...env,
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "pst-docker-plugin-"));
  await installDockerPlugin({ home, pluginPath: PLUGIN_SOURCE, nodeArgs: NODE_ARGS });
});

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

describe("docker powerstrip (the Docker CLI plugin)", () => {
  it("answers docker-cli-plugin-metadata as the docker CLI expects", async () => {
    const result = await new Promise<Result>((resolve) =>
      execFile(
        join(home, ".docker", "cli-plugins", "docker-powerstrip"),
        ["docker-cli-plugin-metadata"],
        (e, o, s) => resolve({ code: e ? 1 : 0, stdout: o, stderr: s }),
      ),
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(result.stdout)).toEqual({
      SchemaVersion: "0.1.0",
      Vendor: "Powerstrip",
      Version: packageJson.version,
      ShortDescription: "Load and manage Powerstrip adapters",
      URL: expect.stringMatching(/^https:\/\//),
    });
  });

  it("is listed by docker --help among the plugin commands", async () => {
    const result = await docker(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+powerstrip\*\s+Load and manage Powerstrip adapters$/m);
    expect(result.stderr).not.toMatch(/powerstrip/i); // no "invalid plugin" warning
  });

  it.each([[["powerstrip", "--help"]], [["help", "powerstrip"]]])(
    "docker %j prints our help",
    async (args) => {
      const result = await docker(args);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(/^Usage: powerstrip /);
      expect(result.stdout).toMatch(/Commands:\n\s+load /);
    },
  );

  it("prints our one-line error and fails when no proxy answers on the admin socket", async () => {
    const admin = `unix://${join(home, "not-running.sock")}`;
    for (const [args, env] of [
      [["powerstrip", "ls"], { POWERSTRIP_ADMIN: admin }],
      [["powerstrip", "--admin", admin, "ls"], {}],
    ] as const) {
      const result = await docker([...args], env);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        `powerstrip: cannot reach the Powerstrip admin API at ${admin}: is powerstrip-proxy running?\n`,
      );
    }
  });

  it("passes the command and its flags through to a running admin API", async () => {
    const socket = join(home, "admin.sock");
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end("[]");
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const result = await docker(["powerstrip", "ls", "--json"], { POWERSTRIP_ADMIN: `unix://${socket}` });
      expect(result).toMatchObject({ code: 0, stdout: "[]\n", stderr: "" });
      expect(seen).toEqual(["GET /adapters"]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
