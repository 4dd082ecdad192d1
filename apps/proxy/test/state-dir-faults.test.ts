// A state directory that is full, or read-only: a load or unload that cannot be saved fails with
// one clear line and changes nothing — not the file, not the adapters loaded, not their hooks.
//
// The decision: an adapter that cannot be persisted is not loaded. Loaded-but-unsaved would vanish
// at the next restart without warning, which is what persisting the set exists to prevent; the
// operator gets the reason and loads again once the disk is fixed.
//
// Tests run as root, for whom permission bits do not stop a write, so the faults are real file
// systems: a 16 KiB tmpfs filled up (ENOSPC), then remounted read-only (EROFS).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawConnection } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, kill9, powerstrip, said, startDaemon } from "./support/daemon.js";
import { type FaultAdapter, startFaultAdapter } from "./support/fault-adapter.js";

const dir = mkdtempSync(join(tmpdir(), "pst-state-faults-"));
const mnt = join(dir, "mnt");
const stateDir = join(mnt, "state");
const stateFile = join(stateDir, "adapters.json");
const socket = join(dir, "docker.sock");
const admin = `unix://${join(dir, "admin.sock")}`;
const daemons: Daemon[] = [];
const adapters: FaultAdapter[] = [];
let mounted = false;

function mount(...args: string[]): void {
  execFileSync("mount", args, { stdio: "pipe" });
}

/** Fills the file system: writes until ENOSPC. */
function fill(): void {
  const filler = join(mnt, "filler");
  const block = Buffer.alloc(4096, 1);
  let size = 0;
  for (;;) {
    try {
      writeFileSync(filler, block, { flag: "a" });
      size += block.length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      return;
    }
    if (size > 1024 * 1024) throw new Error("the tmpfs did not fill up");
  }
}

function start(): Daemon {
  const daemon = startDaemon(["--listen", `unix://${socket}`, "--admin", admin, "--state-dir", stateDir]);
  daemons.push(daemon);
  return daemon;
}

/** An adapter that allows every call of `path` it hooks, counting them. */
async function adapter(name: string, path: string): Promise<FaultAdapter> {
  const fake = await startFaultAdapter({
    name,
    failurePolicy: "fail",
    timeoutMs: 2_000,
    hooks: [{ method: "GET", path }],
    fault: () => ({ kind: "json", body: { action: "allow" } }),
  });
  adapters.push(fake);
  return fake;
}

async function get(path: string): Promise<number> {
  const connection = await RawConnection.open(socket);
  try {
    connection.send({ method: "GET", path });
    return (await connection.readResponse("GET")).status;
  } finally {
    connection.destroy();
  }
}

async function names(): Promise<string[]> {
  const listed = JSON.parse((await powerstrip(admin, "ls", "--json")).stdout) as {
    name: string;
    state: string;
  }[];
  return listed.map((a) => `${a.name} ${a.state}`).sort();
}

beforeAll(() => {
  mkdirSync(mnt);
  mount("-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", mnt);
  mounted = true;
});

afterAll(async () => {
  await Promise.all(daemons.map(kill9));
  for (const fake of adapters) await fake.close();
  if (mounted) mount("-o", "remount,rw", mnt);
  if (mounted) execFileSync("umount", [mnt]);
  rmSync(dir, { recursive: true, force: true });
});

describe("an unwritable state directory", () => {
  it("refuses a load or an unload it cannot save, with one clear line, and keeps what was there", async () => {
    const first = start();
    await said(first, /listening on/, "the daemon to listen");
    const kept = await adapter("kept", "/version");
    expect((await powerstrip(admin, "load", "--url", kept.url)).code).toBe(0);
    const before = readFileSync(stateFile, "utf8");
    expect(JSON.parse(before).adapters).toEqual([{ name: "kept", source: "url", url: kept.url }]);

    fill();
    const refused = await adapter("refused", "/info");
    for (const [fault, code] of [
      ["full", "ENOSPC"],
      ["read-only", "EROFS"],
    ] as const) {
      if (fault === "read-only") {
        rmSync(join(mnt, "filler"));
        mount("-o", "remount,ro", mnt);
      }
      const load = await powerstrip(admin, "load", "--url", refused.url);
      expect(load.code, fault).toBe(1);
      expect(load.stdout).toBe("");
      expect(load.stderr).toBe(
        `powerstrip: cannot save the adapter set to ${stateFile}: ${code}; nothing was changed\n`,
      );
      // Not half-registered: not listed, and its hook is not live.
      expect(await names()).toEqual(["kept ready"]);
      expect(await get("/v1.41/info")).toBe(200);
      expect(refused.calls).toBe(0);

      const unload = await powerstrip(admin, "unload", "kept");
      expect(unload.code, fault).toBe(1);
      expect(unload.stderr).toBe(
        `powerstrip: cannot save the adapter set to ${stateFile}: ${code}; nothing was changed\n`,
      );
      // Still loaded, still hooked.
      expect(await names()).toEqual(["kept ready"]);
      const calls = kept.calls;
      expect(await get("/v1.41/version")).toBe(200);
      expect(kept.calls).toBe(calls + 1);

      // The file is as it was, and no temp file is left beside it.
      expect(readFileSync(stateFile, "utf8")).toBe(before);
      expect(readdirSync(stateDir)).toEqual(["adapters.json"]);
    }

    // Writable again: the same load works, and both survive a kill -9.
    mount("-o", "remount,rw", mnt);
    expect((await powerstrip(admin, "load", "--url", refused.url)).code).toBe(0);
    await kill9(first);
    const second = start();
    await said(second, /adapter refused ready/, "the adapters to come back");
    await said(second, /adapter kept ready/, "the adapters to come back");
    expect(await names()).toEqual(["kept ready", "refused ready"]);
    expect(await get("/v1.41/info")).toBe(200);
    expect(refused.calls).toBe(1);
  });
});
