import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineAdapter, type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { isDirectMode, uniqueName } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";

// Credential headers through the real docker CLI and engine (issue #6): `docker pull` sends
// X-Registry-Auth from the user's config.json, and config.json's HttpHeaders add an Authorization
// to every call. Three adapters hook the pull: one that does not ask for credentials, one that asks
// but is loaded without --allow-credentials, one that asks and is allowed. Only the last sees them.

const silent = { info() {}, warn() {}, error() {} };
const TOKEN = `Bearer ${uniqueName("token")}`;
const USER = uniqueName("user");

function watcher(name: string, credentials: boolean) {
  const seen: Record<string, string>[] = [];
  const adapter = defineAdapter({
    name,
    credentials,
    hooks: {
      "POST /images/create": {
        pre(ctx) {
          seen.push({ ...ctx.headers });
        },
        needsBody: false,
      },
    },
  });
  return { adapter, seen };
}

describe.skipIf(isDirectMode())("credentials reach only the adapters that ask and are allowed", () => {
  let stack: Stack;
  let configDir: string;
  const running: RunningAdapter[] = [];
  const plain = watcher("plain", false);
  const asks = watcher("asks", true);
  const trusted = watcher("trusted", true);

  beforeAll(async () => {
    stack = await startStack();
    for (const { adapter } of [plain, asks, trusted]) {
      running.push(
        await serve(adapter, {
          socket: join(stack.dir, `${adapter.name}.sock`),
          handleSignals: false,
          logger: silent,
        }),
      );
    }
    // What `docker login localhost:5000` leaves, plus a header the CLI adds to every call.
    configDir = await mkdtemp(join(tmpdir(), "pst-docker-config-"));
    await writeFile(
      join(configDir, "config.json"),
      JSON.stringify({
        auths: { "localhost:5000": { auth: Buffer.from(`${USER}:secret`).toString("base64") } },
        HttpHeaders: { Authorization: TOKEN },
      }),
    );
  });
  afterAll(async () => {
    await stack?.close();
    for (const adapter of running) await adapter.close();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it("loads them, and ls says who gets credentials", async () => {
    const [plainAt, asksAt, trustedAt] = running.map((r) => r.address);
    expect((await stack.cli("load", "--url", plainAt!)).stdout).toBe(
      `loaded plain (1 hook) from ${plainAt}\n`,
    );
    expect((await stack.cli("load", "--url", asksAt!)).stdout).toBe(
      `loaded asks (1 hook) from ${asksAt}; it asks for credentials, withheld (load it with --allow-credentials to send them)\n`,
    );
    expect((await stack.cli("load", "--url", trustedAt!, "--allow-credentials")).stdout).toBe(
      `loaded trusted (1 hook) from ${trustedAt}; it receives credentials\n`,
    );
    const listed = JSON.parse((await stack.cli("ls", "--json")).stdout) as {
      name: string;
      credentials: string;
    }[];
    expect(listed.map((a) => [a.name, a.credentials])).toEqual([
      ["asks", "withheld"],
      ["plain", "none"],
      ["trusted", "sent"],
    ]);
    const table = (await stack.cli("ls")).stdout;
    expect(table.split("\n")[0]).toMatch(/ CREDENTIALS /);
    expect(table).toMatch(/\nasks +\S+ +ready +1 +withheld /);
    expect(table).toMatch(/\ntrusted +\S+ +ready +1 +sent /);
  });

  it("docker pull sends X-Registry-Auth and Authorization: only the allowed adapter sees them", async () => {
    const image = `localhost:5000/${uniqueName("nothing-here")}:1`;
    // No registry listens there: the pull fails, after the hooks have seen the call.
    const pulled = await stack.target.docker(["pull", image], {
      env: { DOCKER_CONFIG: configDir },
      timeoutMs: 30_000,
    });
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).not.toContain("powerstrip");
    for (const { seen } of [plain, asks, trusted]) expect(seen).toHaveLength(1);

    for (const { seen } of [plain, asks]) {
      expect(seen[0]).not.toHaveProperty("x-registry-auth");
      expect(seen[0]).not.toHaveProperty("authorization");
      expect(JSON.stringify(seen[0])).not.toContain(USER);
      expect(seen[0]!["user-agent"]).toMatch(/^Docker-Client\//); // the call itself did reach them
    }
    const auth = JSON.parse(Buffer.from(trusted.seen[0]!["x-registry-auth"]!, "base64").toString()) as {
      username?: string;
    };
    expect(auth.username).toBe(USER);
    expect(trusted.seen[0]!.authorization).toBe(TOKEN);
  });
});
