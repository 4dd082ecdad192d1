import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { validateAdapterList } from "@powerstrip/protocol";
import {
  BASE_IMAGE,
  containerFlags,
  isDirectMode,
  removeLabelled,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelsOf, type Stack, startStack } from "./stack.js";

const LEGACY_LABEL = "io.powerstrip.flocker";

interface LegacyCall {
  path: string;
  PowerstripProtocolVersion: number;
  Type: string;
  ClientRequest: { Method: string; Request: string; Body: string };
}

/**
 * A 2015 ClusterHQ-style adapter, written the way those were: a plain HTTP server that gets
 * `{PowerstripProtocolVersion: 1, Type: "pre-hook", ClientRequest: {Method, Request, Body}}` and
 * answers `ModifiedClientRequest`, here adding a label to every container it sees created.
 */
function startFlocker(calls: LegacyCall[]): Promise<Server> {
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      text += chunk;
    });
    req.on("end", () => {
      const call = { path: req.url ?? "", ...JSON.parse(text) } as LegacyCall;
      calls.push(call);
      const body = JSON.parse(call.ClientRequest.Body) as { Labels?: Record<string, string> | null };
      body.Labels = { ...body.Labels, [LEGACY_LABEL]: "yes" };
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          PowerstripProtocolVersion: 1,
          ModifiedClientRequest: { ...call.ClientRequest, Body: JSON.stringify(body) },
        }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe.skipIf(isDirectMode())("legacy (2015) adapters through the proxy", () => {
  let stack: Stack;
  let flocker: Server;
  let base: string;
  const calls: LegacyCall[] = [];

  beforeAll(async () => {
    stack = await startStack();
    flocker = await startFlocker(calls);
    base = `http://127.0.0.1:${(flocker.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await removeLabelled();
    await stack?.close();
    flocker?.closeAllConnections();
    await new Promise<void>((resolve) => (flocker ? flocker.close(() => resolve()) : resolve()));
  });

  it("load --legacy --hook: the adapter gets v1 messages at its URL and its rewrite reaches Docker", async () => {
    const url = `${base}/v1/extension`;
    const loaded = await stack.cli(
      "load",
      "--legacy",
      "--url",
      url,
      "--name",
      "flocker",
      "--hook",
      "pre:POST /*/containers/create",
    );
    expect(loaded).toEqual({ code: 0, stdout: `loaded flocker (legacy, 1 hook) from ${url}\n`, stderr: "" });

    const name = uniqueName("legacy");
    succeeded(await stack.target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect((await labelsOf(stack.target, name))[LEGACY_LABEL]).toBe("yes");
    const call = calls.at(-1)!;
    expect(call.path).toBe("/v1/extension");
    expect(call.PowerstripProtocolVersion).toBe(1);
    expect(call.Type).toBe("pre-hook");
    expect(call.ClientRequest.Method).toBe("POST");
    expect(call.ClientRequest.Request).toMatch(/^\/v1\.\d+\/containers\/create\?name=pst-legacy-/);

    expect((await stack.cli("unload", "flocker")).code).toBe(0);
    const plain = uniqueName("plain");
    succeeded(await stack.target.docker(["create", ...containerFlags(plain), BASE_IMAGE, "true"]));
    expect(await labelsOf(stack.target, plain)).not.toHaveProperty(LEGACY_LABEL);
  });

  it("import adapters.yml --at: a 2015 file loads, hooks, shows in ls, and unloads", async () => {
    const file = join(stack.dir, "adapters.yml");
    await writeFile(
      file,
      [
        "# The 2015 prototype's configuration, unchanged",
        "endpoints:",
        '  "POST /*/containers/create":',
        "    pre: [flocker]",
        "adapters:",
        "  flocker: http://flocker/flocker-adapter",
        "",
      ].join("\n"),
    );
    const offHost = await stack.cli("import", file);
    expect(offHost.code).toBe(1);
    expect(offHost.stderr).toMatch(
      /^powerstrip: adapters\.yml: flocker \(http:\/\/flocker\/flocker-adapter\) is not on this host; map each to where it listens here with --at/,
    );

    const imported = await stack.cli("import", file, "--at", `flocker=${base}/flocker-adapter`, "--json");
    expect(imported.code).toBe(0);
    expect(validateAdapterList(JSON.parse(imported.stdout)).ok).toBe(true);

    const ls = JSON.parse((await stack.cli("ls", "--json")).stdout);
    expect(ls).toEqual([
      expect.objectContaining({
        name: "flocker",
        kind: "legacy",
        state: "ready",
        source: `${base}/flocker-adapter`,
        protocolVersion: "1",
        hooks: [{ method: "POST", path: "/*/containers/create", stage: "pre" }],
      }),
    ]);

    const name = uniqueName("imported");
    succeeded(await stack.target.docker(["run", "--rm", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect(calls.at(-1)!.path).toBe("/flocker-adapter");

    const created = uniqueName("imported");
    succeeded(await stack.target.docker(["create", ...containerFlags(created), BASE_IMAGE, "true"]));
    expect((await labelsOf(stack.target, created))[LEGACY_LABEL]).toBe("yes");

    expect((await stack.cli("unload", "flocker")).code).toBe(0);
    expect(JSON.parse((await stack.cli("ls", "--json")).stdout)).toEqual([]);
  });
});
