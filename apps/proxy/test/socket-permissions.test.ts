// Who may connect (issue #6): the client socket gets --socket-mode and --socket-group, and the
// kernel enforces them (a user outside the group is refused, one in it gets through); the admin
// socket is 0600 whatever --socket-mode says; a group that does not exist refuses the start.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withTimeout } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, kill9, said, startDaemon } from "./support/daemon.js";

/** Debian's `daemon` group (gid 1): present on every Debian system, and nobody is not in it. */
const GROUP = "daemon";
const GID = 1;
const NOBODY = "65534";

const dir = mkdtempSync(join(tmpdir(), "pst-perms-"));
const socket = join(dir, "docker.sock");
const admin = join(dir, "admin.sock");
const daemons: Daemon[] = [];

/** Connects to `path` as nobody (with `groups`, if any) from a process of its own: "ok" or the errno. */
function connectAsNobody(path: string, groups: string[] = []): Promise<string> {
  const child = spawn(
    "setpriv",
    [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      ...(groups.length > 0 ? [`--groups=${groups.join(",")}`] : ["--clear-groups"]),
      process.execPath,
      "-e",
      `const s = require("net").connect(${JSON.stringify(path)});
       s.on("connect", () => { process.stdout.write("ok"); s.destroy(); });
       s.on("error", (e) => process.stdout.write(e.code));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return withTimeout(new Promise((resolve) => child.once("exit", () => resolve(out))), 10_000, "the client");
}

beforeAll(async () => {
  chmodSync(dir, 0o755); // nobody may reach the sockets; their own modes decide the rest
  const daemon = startDaemon([
    "--listen",
    `unix://${socket}`,
    "--socket-mode",
    "660",
    "--socket-group",
    GROUP,
    "--admin",
    `unix://${admin}`,
    "--state-dir",
    join(dir, "state"),
  ]);
  daemons.push(daemon);
  await said(daemon, /listening on/, "the daemon to listen");
});

afterAll(async () => {
  await Promise.all(daemons.map(kill9));
  rmSync(dir, { recursive: true, force: true });
});

describe("socket permissions", () => {
  it("gives the client socket --socket-mode and --socket-group", () => {
    const stats = statSync(socket);
    expect(stats.mode & 0o777).toBe(0o660);
    expect(stats.gid).toBe(GID);
  });

  it("lets the group in and keeps everyone else out", async () => {
    expect(await connectAsNobody(socket)).toBe("EACCES");
    expect(await connectAsNobody(socket, [String(GID)])).toBe("ok");
  });

  it("keeps the admin socket 0600, root's, even for a member of the socket group", async () => {
    const stats = statSync(admin);
    expect(stats.mode & 0o777).toBe(0o600);
    expect(stats.uid).toBe(0);
    expect(await connectAsNobody(admin, [String(GID)])).toBe("EACCES");
  });

  it("keeps the admin socket 0600 when --socket-mode opens the client socket to all", async () => {
    const wide = join(dir, "wide");
    const daemon = startDaemon([
      "--listen",
      `unix://${wide}.sock`,
      "--socket-mode",
      "666",
      "--admin",
      `unix://${wide}-admin.sock`,
      "--state-dir",
      join(dir, "wide-state"),
    ]);
    daemons.push(daemon);
    await said(daemon, /listening on/, "the daemon to listen");
    expect(statSync(`${wide}.sock`).mode & 0o777).toBe(0o666);
    expect(statSync(`${wide}-admin.sock`).mode & 0o777).toBe(0o600);
    expect(await connectAsNobody(`${wide}-admin.sock`)).toBe("EACCES");
  });

  it("refuses a --socket-group that does not exist: one line, exit 1", async () => {
    const daemon = startDaemon([
      "--listen",
      `unix://${join(dir, "nogroup.sock")}`,
      "--socket-group",
      "no-such-group-here",
      "--admin",
      `unix://${join(dir, "nogroup-admin.sock")}`,
      "--state-dir",
      join(dir, "nogroup-state"),
    ]);
    daemons.push(daemon);
    expect(await withTimeout(daemon.exited, 30_000, "the daemon to exit")).toBe(1);
    const lines = daemon.stderr().trim().split("\n");
    expect(lines).toEqual([expect.stringContaining('socket group "no-such-group-here" does not exist')]);
  });
});
