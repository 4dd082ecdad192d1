import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  type DockerTarget,
  openTarget,
  RUN_ID,
  removeLabelled,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
let dir: string;
beforeAll(async () => {
  target = await openTarget(startProxy);
  dir = await mkdtemp(join(tmpdir(), "pst-compose-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeLabelled();
  await target?.close();
});

/** Two idle services; everything compose creates carries this run's label. JSON is valid YAML. */
function composeFile(): string {
  const service = {
    image: BASE_IMAGE,
    command: ["sleep", "infinity"],
    labels: { [TEST_LABEL]: RUN_ID },
  };
  return JSON.stringify({
    version: "2.4",
    services: { alpha: service, beta: service },
    networks: { default: { labels: { [TEST_LABEL]: RUN_ID } } },
  });
}

describe("docker-compose 1.29", () => {
  it("up -d, ps and down a two-service project", async () => {
    const project = uniqueName("compose");
    const file = join(dir, `${project}.json`);
    await writeFile(file, composeFile());
    const compose = (args: string[]) =>
      target.compose(["-p", project, "-f", file, ...args], { timeoutMs: 90_000 });

    succeeded(await compose(["up", "-d", "--no-build"]), "compose up");

    const ps = succeeded(await compose(["ps", "--services", "--filter", "status=running"]), "compose ps");
    expect(ps.stdout.toString().trim().split("\n").sort()).toEqual(["alpha", "beta"]);

    const listed = succeeded(
      await target.docker([
        "ps",
        "--filter",
        `label=com.docker.compose.project=${project}`,
        "--format",
        "{{json .Labels}}",
      ]),
    );
    const labels = listed.stdout.toString().trim().split("\n");
    expect(labels).toHaveLength(2);
    for (const line of labels) expect(line).toContain(`${TEST_LABEL}=${RUN_ID}`);

    // Sleep ignores SIGTERM as PID 1; -t 0 skips the pointless 10 s grace period.
    succeeded(await compose(["down", "-t", "0"]), "compose down");
    const left = succeeded(
      await target.docker(["ps", "-a", "-q", "--filter", `label=com.docker.compose.project=${project}`]),
    );
    expect(left.stdout.toString().trim()).toBe("");
    const networks = succeeded(
      await target.docker(["network", "ls", "-q", "--filter", `name=${project}_default`]),
    );
    expect(networks.stdout.toString().trim()).toBe("");
  });
});
