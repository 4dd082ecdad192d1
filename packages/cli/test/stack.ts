import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost, type RunningAdminServer, startAdminServer } from "@powerstrip/adapter-host";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import { type DockerTarget, startTestProxy } from "@powerstrip/test-support";
import { runCli } from "../src/testing/harness.js";

/** The daemon's three parts in-process, as apps/proxy wires them, on temp sockets. */
export interface Stack {
  target: DockerTarget;
  proxy: RunningProxy;
  host: AdapterHost;
  admin: RunningAdminServer;
  /** A scratch directory for adapter sockets and files, removed on close. */
  dir: string;
  /** `powerstrip --admin <this stack> ...argv`, in-process. */
  cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  let proxy: RunningProxy | undefined;
  const target = await startTestProxy(async (options) => {
    proxy = await startProxy(options);
    return proxy;
  });
  const host = new AdapterHost(proxy!.hooks);
  const dir = await mkdtemp(join(tmpdir(), "pst-cli-engine-"));
  const admin = await startAdminServer({ address: `unix://${join(dir, "admin.sock")}`, host });
  return {
    target,
    proxy: proxy!,
    host,
    admin,
    dir,
    cli: (...argv: string[]) => runCli(["--admin", admin.address, ...argv]),
    async close() {
      await admin.close();
      await target.close();
      await host.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The labels of a container, read from the engine itself. */
export async function labelsOf(target: DockerTarget, name: string): Promise<Record<string, string>> {
  const result = await target.docker(["container", "inspect", "--format", "{{json .Config.Labels}}", name]);
  if (result.code !== 0) throw new Error(`docker inspect ${name}: ${result.stderr}`);
  return JSON.parse(result.stdout.toString("utf8")) as Record<string, string>;
}
