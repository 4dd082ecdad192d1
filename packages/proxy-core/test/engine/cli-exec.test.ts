import { randomBytes } from "node:crypto";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  openTarget,
  removeLabelled,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
beforeAll(async () => {
  target = await openTarget(startProxy);
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

/** A container that idles until the test removes it. */
async function idleContainer(): Promise<string> {
  const name = uniqueName("exec");
  succeeded(await target.docker(["run", "-d", ...containerFlags(name), BASE_IMAGE, "sleep", "infinity"]));
  return name;
}

describe("docker CLI: exec", () => {
  it("exec relays stdout and stderr apart", async () => {
    const name = await idleContainer();
    const result = succeeded(await target.docker(["exec", name, "sh", "-c", "echo out; echo err >&2"]));
    expect(result.stdout.toString()).toBe("out\n");
    expect(result.stderr).toBe("err\n");
  });

  it("exec relays the process's exit code", async () => {
    const name = await idleContainer();
    const result = await target.docker(["exec", name, "sh", "-c", "exit 4"]);
    expect(result.code).toBe(4);
  });

  it("exec -i echoes piped binary stdin back byte for byte", async () => {
    const name = await idleContainer();
    const input = randomBytes(1024 * 1024);
    const result = succeeded(await target.docker(["exec", "-i", name, "cat"], { input }));
    expect(result.stdout.length).toBe(input.length);
    expect(result.stdout.equals(input)).toBe(true);
  });
});
