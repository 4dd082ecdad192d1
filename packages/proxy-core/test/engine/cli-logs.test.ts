import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  openTarget,
  removeLabelled,
  succeeded,
  uniqueName,
  withTimeout,
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

/** Prints line1, line2, ... five times a second, forever. */
const TICKER = "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.2; done";

describe("docker CLI: logs", () => {
  it("logs returns a finished container's stdout and stderr apart", async () => {
    const name = uniqueName("logs");
    succeeded(
      await target.docker([
        "run",
        "-d",
        ...containerFlags(name),
        BASE_IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2",
      ]),
    );
    succeeded(await target.docker(["wait", name]));
    const result = succeeded(await target.docker(["logs", name]));
    expect(result.stdout.toString()).toBe("out\n");
    expect(result.stderr).toBe("err\n");
  });

  it("logs -f shows lines as they are printed and returns when the container stops", async () => {
    const name = uniqueName("follow");
    succeeded(await target.docker(["run", "-d", ...containerFlags(name), BASE_IMAGE, "sh", "-c", TICKER]));
    const follow = target.spawnDocker(["logs", "-f", name], { timeoutMs: 60_000 });

    const first = await follow.waitForStdout(/line3\n/, 15_000);
    // Later lines must keep arriving on the same stream: proof it is live, not a buffered replay.
    const seen = first.match(/line(\d+)\n/g)?.length ?? 0;
    await follow.waitForStdout(new RegExp(`line${seen + 2}\\n`), 15_000);
    expect(follow.hasExited()).toBe(false);
    const running = succeeded(
      await target.docker(["container", "inspect", "-f", "{{.State.Running}}", name]),
    );
    expect(running.stdout.toString().trim()).toBe("true");

    succeeded(await target.docker(["kill", name]));
    const result = await withTimeout(
      follow.exited,
      15_000,
      "logs -f to return after the container was killed",
    );
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/^line1\nline2\nline3\n(line\d+\n)*$/);
  });
});
