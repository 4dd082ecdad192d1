import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { validateAdapterInfo, validateAdapterList } from "@powerstrip/protocol";
import { describe, expect, it } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import {
  type RunResult,
  runCli,
  startAdmin,
  startLegacyAdapter,
  startV2Adapter,
  tempDir,
} from "./testing/harness.js";

const createHook = { method: "POST", path: "/containers/create", stage: "pre" };

function expectOneLineFailure(result: RunResult, code: number, message: string | RegExp): void {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe("");
  expect(result.stderr.endsWith("\n")).toBe(true);
  expect(result.stderr.split("\n")).toHaveLength(2); // one line, then the final newline
  if (typeof message === "string") expect(result.stderr).toBe(`powerstrip: ${message}\n`);
  else expect(result.stderr).toMatch(message);
}

describe("powerstrip load / ls / inspect / unload", () => {
  it("loads a v2 adapter by URL, lists it, inspects it and unloads it", async () => {
    const admin = await startAdmin();
    const adapter = await startV2Adapter({
      declare: {
        name: "labels",
        priority: 100,
        hooks: [
          createHook,
          { method: "POST", path: "/containers/{id}/start", stage: "post", needsBody: false },
        ],
      },
    });
    const cli = (...argv: string[]) => runCli(["--admin", admin.address, ...argv]);

    expect(await cli("ls")).toEqual({
      code: 0,
      stdout: "NAME   SOURCE   STATE   HOOKS   SINCE\n",
      stderr: "",
    });

    const loaded = await cli("load", "--url", adapter.url);
    expect(loaded).toEqual({ code: 0, stdout: `loaded labels (2 hooks) from ${adapter.url}\n`, stderr: "" });
    expect(admin.registry.get("labels")).toBeDefined();

    const since = Date.parse(admin.host.inspect("labels").since);
    const table = await runCli(["--admin", admin.address, "ls"], {}, new Date(since + 185_000));
    expect(table.code).toBe(0);
    const source = adapter.url.padEnd(Math.max(adapter.url.length, 6));
    expect(table.stdout).toBe(
      `NAME     ${"SOURCE".padEnd(source.length)}   STATE   HOOKS   SINCE\n` +
        `labels   ${source}   ready   2       3 minutes ago\n`,
    );

    const json = await cli("ls", "--json");
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout);
    expect(validateAdapterList(list).ok).toBe(true);
    expect(list).toEqual(admin.host.list());

    const inspected = await runCli(
      ["--admin", admin.address, "inspect", "labels"],
      {},
      new Date(since + 5_000),
    );
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toBe(
      [
        "Name:            labels",
        `Source:          ${adapter.url}`,
        "Kind:            url",
        `State:           ready since ${new Date(since).toISOString()} (5 seconds ago)`,
        "Protocol:        2",
        "Priority:        100",
        "Failure policy:  fail",
        "Timeout:         2000 ms",
        "Credentials:     none (it does not ask for them)",
        "Hooks:",
        "  pre  POST /containers/create",
        "  post POST /containers/{id}/start",
        "",
      ].join("\n"),
    );
    const inspectedJson = await cli("inspect", "labels", "--json");
    expect(validateAdapterInfo(JSON.parse(inspectedJson.stdout)).ok).toBe(true);
    expect(JSON.parse(inspectedJson.stdout)).toEqual(list[0]);

    expect(await cli("unload", "labels")).toEqual({ code: 0, stdout: "unloaded labels\n", stderr: "" });
    expect(admin.registry.get("labels")).toBeUndefined();
    expectOneLineFailure(await cli("unload", "labels"), 1, "no adapter named labels");
    expectOneLineFailure(await cli("inspect", "labels"), 1, "no adapter named labels");
  });

  it("passes --name and --priority, and prints the adapter with --json", async () => {
    const admin = await startAdmin();
    const adapter = await startV2Adapter({ declare: { name: "labels", hooks: [createHook] } });
    const result = await runCli(
      ["load", "--url", adapter.url, "--name", "labels-prod", "--priority", "7", "--json"],
      { POWERSTRIP_ADMIN: admin.address },
    );
    expect(result.code).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(validateAdapterInfo(info).ok).toBe(true);
    expect(info).toMatchObject({ name: "labels-prod", priority: 7, state: "ready" });
  });

  it("loads a legacy adapter with --legacy --hook", async () => {
    const admin = await startAdmin();
    const legacy = await startLegacyAdapter({});
    const result = await runCli([
      "load",
      "--admin",
      admin.address,
      "--legacy",
      "--url",
      `${legacy.url}/v1/extension`,
      "--name",
      "flocker",
      "--hook",
      "pre:POST /*/containers/create",
      "--hook",
      "post:POST /*/containers/create",
    ]);
    expect(result).toEqual({
      code: 0,
      stdout: `loaded flocker (legacy, 2 hooks) from ${legacy.url}/v1/extension\n`,
      stderr: "",
    });
    expect(admin.host.inspect("flocker").hooks).toEqual([
      { method: "POST", path: "/*/containers/create", stage: "pre" },
      { method: "POST", path: "/*/containers/create", stage: "post" },
    ]);
  });

  it("says why a load failed, in one line", async () => {
    const admin = await startAdmin();
    const cli = (...argv: string[]) => runCli(["--admin", admin.address, ...argv]);
    const nowhere = `unix://${join(tempDir(), "none.sock")}`;
    expectOneLineFailure(
      await cli("load", "--url", nowhere),
      1,
      `handshake with ${nowhere} failed: cannot reach it: ENOENT`,
    );
    expectOneLineFailure(
      await cli("load", "--url", "http://flocker/flocker-adapter"),
      1,
      /^powerstrip: adapter URL http:\/\/flocker\/flocker-adapter is not on this host: /,
    );
    expectOneLineFailure(
      await cli("load", "acme/labels:1.0"),
      1,
      "this Powerstrip host runs no container runtime, so it cannot load adapter images; load a running adapter with --url",
    );
    const adapter = await startV2Adapter({ declare: { name: "labels", hooks: [] } });
    expect((await cli("load", "--url", adapter.url)).code).toBe(0);
    expectOneLineFailure(
      await cli("load", "--url", adapter.url),
      1,
      /an adapter named labels is already loaded/,
    );
  });
});

describe("powerstrip import", () => {
  const adaptersYml = [
    "endpoints:",
    '  "POST /*/containers/create":',
    "    pre: [flocker, weave]",
    "    post: [weave]",
    '  "DELETE /*/containers/*":',
    "    pre: [flocker]",
    "adapters:",
    "  flocker: http://flocker/flocker-adapter",
    "  weave: http://weave/weave-adapter",
    "",
  ].join("\n");

  it("reads a 2015 adapters.yml and loads its adapters at the --at URLs", async () => {
    const admin = await startAdmin();
    const flocker = await startLegacyAdapter({});
    const weave = await startLegacyAdapter({});
    const file = join(tempDir(), "adapters.yml");
    writeFileSync(file, adaptersYml);
    const result = await runCli([
      "--admin",
      admin.address,
      "import",
      file,
      "--at",
      `flocker=${flocker.url}/flocker-adapter`,
      "--at",
      `weave=${weave.url}/weave-adapter`,
    ]);
    expect(result).toEqual({
      code: 0,
      stdout:
        `loaded flocker (legacy, 2 hooks) from ${flocker.url}/flocker-adapter\n` +
        `loaded weave (legacy, 2 hooks) from ${weave.url}/weave-adapter\n`,
      stderr: "",
    });
    await runCli(["--admin", admin.address, "unload", "flocker"]);
    await runCli(["--admin", admin.address, "unload", "weave"]);
    const json = await runCli([
      "--admin",
      admin.address,
      "import",
      file,
      "--json",
      "--at",
      `flocker=${flocker.url}/flocker-adapter`,
      "--at",
      `weave=${weave.url}/weave-adapter`,
    ]);
    expect(validateAdapterList(JSON.parse(json.stdout)).ok).toBe(true);
    expect(JSON.parse(json.stdout).map((a: { name: string }) => a.name)).toEqual(["flocker", "weave"]);
  });

  it("tells the operator to map off-host URLs with --at, and loads nothing", async () => {
    const admin = await startAdmin();
    const weave = await startLegacyAdapter({});
    const file = join(tempDir(), "adapters.yml");
    writeFileSync(file, adaptersYml);
    expectOneLineFailure(
      await runCli(["--admin", admin.address, "import", file, "--at", `weave=${weave.url}/weave-adapter`]),
      1,
      /^powerstrip: adapters\.yml: flocker \(http:\/\/flocker\/flocker-adapter\) is not on this host; map each to where it listens here with --at, e\.g\. --at flocker=/,
    );
    expect(admin.host.list()).toEqual([]);
  });

  it("refuses a file that cannot be read or parsed, or that does not fit the schema", async () => {
    const admin = await startAdmin();
    const dir = tempDir();
    const cli = (...argv: string[]) => runCli(["--admin", admin.address, ...argv]);
    expectOneLineFailure(
      await cli("import", join(dir, "missing.yml")),
      1,
      `cannot read ${join(dir, "missing.yml")}: no such file`,
    );
    writeFileSync(join(dir, "bad.yml"), "endpoints: [unclosed\n");
    expectOneLineFailure(await cli("import", join(dir, "bad.yml")), 1, /bad\.yml is not valid YAML: /);
    writeFileSync(join(dir, "wrong.yml"), "adapters:\n  x: http://127.0.0.1:1/\n");
    expectOneLineFailure(
      await cli("import", join(dir, "wrong.yml")),
      1,
      /invalid adapters\.yml: .*endpoints/,
    );
  });
});

describe("powerstrip: usage errors exit 2 with one line", () => {
  const cases: [string[], string | RegExp][] = [
    [
      [],
      "a command is required: load, unload, ls, inspect, logs, trace, reload, import, install-docker-plugin (see powerstrip --help)",
    ],
    [
      ["--admin", "unix:///x.sock"],
      "a command is required: load, unload, ls, inspect, logs, trace, reload, import, install-docker-plugin (see powerstrip --help)",
    ],
    [["lss"], "unknown command 'lss' (Did you mean ls?)"],
    [["ls", "--jsn"], "unknown option '--jsn' (Did you mean --json?)"],
    [["inspect"], "missing required argument 'name'"],
    [["unload", "a", "b"], /too many arguments for 'unload'/],
    [["load"], "load needs an IMAGE or --url URL"],
    [["load", "img", "--url", "unix:///a.sock"], "load takes an IMAGE or --url URL, not both"],
    [
      ["load", "--url", "unix:///a.sock", "--hook", "pre:GET /x"],
      "--hook is only for legacy adapters: add --legacy",
    ],
    [["load", "--url", "unix:///a.sock", "--legacy"], /load --legacy needs at least one --hook/],
    [
      ["load", "--url", "unix:///a.sock", "--priority", "high"],
      /option '--priority <n>' argument 'high' is invalid/,
    ],
    [["import", "f.yml", "--at", "flocker"], /--at flocker: expected NAME=URL/],
    [["--admin", "localhost:2375", "ls"], /invalid admin address "localhost:2375"/],
  ];
  for (const [argv, message] of cases) {
    it(`powerstrip ${argv.join(" ")}`, async () => {
      expectOneLineFailure(await runCli(argv), 2, message);
    });
  }

  it("--help and --version print to stdout and exit 0", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: powerstrip \[options\] \[command\]/);
    expect(help.stdout).toMatch(/--admin <address>/);
    const loadHelp = await runCli(["load", "--help"]);
    expect(loadHelp.stdout).toMatch(/--hook <hook>/);
    expect(await runCli(["--version"])).toEqual({ code: 0, stdout: `${packageJson.version}\n`, stderr: "" });
  });
});

describe("powerstrip: reaching the admin API", () => {
  it("says plainly when nothing answers at the admin address", async () => {
    const address = `unix://${join(tempDir(), "admin.sock")}`;
    expectOneLineFailure(
      await runCli(["ls"], { POWERSTRIP_ADMIN: address }),
      1,
      `cannot reach the Powerstrip admin API at ${address}: is powerstrip-proxy running?`,
    );
  });

  it("takes --admin over POWERSTRIP_ADMIN, before or after the command", async () => {
    const admin = await startAdmin();
    const elsewhere = `unix://${join(tempDir(), "other.sock")}`;
    expect((await runCli(["ls", "--admin", admin.address], { POWERSTRIP_ADMIN: elsewhere })).code).toBe(0);
    expect((await runCli(["--admin", admin.address, "ls"], { POWERSTRIP_ADMIN: elsewhere })).code).toBe(0);
    expect((await runCli(["ls"], { POWERSTRIP_ADMIN: admin.address })).code).toBe(0);
  });

  it("reports an admin API that answers something else than the schemas", async () => {
    const socketPath = join(tempDir(), "liar.sock");
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify([{ name: "x" }]));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      expectOneLineFailure(
        await runCli(["--admin", `unix://${socketPath}`, "ls"]),
        1,
        /^powerstrip: the admin API at unix:.* answered something unexpected: /,
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
