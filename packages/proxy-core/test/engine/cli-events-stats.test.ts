import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  openTarget,
  RUN_LABEL,
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

interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

describe("docker CLI: events and stats", () => {
  it("events streams a container's events live and stops when killed", async () => {
    const name = uniqueName("events");
    // --since replays anything the subscription might have missed while connecting: no race, no sleep.
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const events = target.spawnDocker(
      [
        "events",
        "--since",
        since,
        "--filter",
        `label=${RUN_LABEL}`,
        "--filter",
        `container=${name}`,
        "--format",
        "{{json .}}",
      ],
      { timeoutMs: 60_000 },
    );
    succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "sleep", "infinity"]));
    await events.waitForStdout(/"Action":"create"/, 15_000);

    // The stream is now surely established, so this event can only arrive live.
    succeeded(await target.docker(["start", name]));
    const text = await events.waitForStdout(/"Action":"start"/, 15_000);
    const seen = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as EngineEvent);
    expect(seen.map((e) => e.Action)).toEqual(["create", "start"]);
    expect(seen.every((e) => e.Type === "container" && e.Actor.Attributes.name === name)).toBe(true);

    // Killing the client is how users stop `docker events`; it must exit, whatever the stream does.
    events.child.kill("SIGTERM");
    await withTimeout(events.exited, 10_000, "docker events to exit after SIGTERM");
    expect(events.hasExited()).toBe(true);
  });

  it("stats --no-stream reports one sample and returns", async () => {
    const name = uniqueName("stats");
    succeeded(await target.docker(["run", "-d", ...containerFlags(name), BASE_IMAGE, "sleep", "infinity"]));
    const result = succeeded(
      await target.docker(["stats", "--no-stream", "--format", "{{json .}}", name], { timeoutMs: 30_000 }),
    );
    const lines = result.stdout.toString().trim().split("\n");
    expect(lines).toHaveLength(1);
    const sample = JSON.parse(lines[0]!) as { Name: string; MemUsage: string; CPUPerc: string };
    expect(sample.Name).toBe(name);
    expect(sample.MemUsage).toMatch(/\d/);
    expect(sample.CPUPerc).toMatch(/%$/);
  });
});
