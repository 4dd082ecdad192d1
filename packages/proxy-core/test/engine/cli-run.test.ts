import { randomBytes } from "node:crypto";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  DIRECT_SOCKET,
  type DockerTarget,
  openTarget,
  removeLabelled,
  runClient,
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

describe("docker CLI: run", () => {
  it("run --rm relays stdout and stderr apart, and the container is removed", async () => {
    const name = uniqueName("run");
    const result = succeeded(
      await target.docker([
        "run",
        "--rm",
        ...containerFlags(name),
        BASE_IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2",
      ]),
    );
    expect(result.stdout.toString()).toBe("out\n");
    expect(result.stderr).toBe("err\n");
    const inspect = await target.docker(["container", "inspect", name]);
    expect(inspect.code).toBe(1);
  });

  it("run --rm relays the container's exit code", async () => {
    const result = await target.docker([
      "run",
      "--rm",
      ...containerFlags(uniqueName("exit")),
      BASE_IMAGE,
      "sh",
      "-c",
      "exit 3",
    ]);
    expect(result.code).toBe(3);
  });

  it("run -i echoes piped binary stdin back byte for byte", async () => {
    const input = randomBytes(1024 * 1024);
    const result = succeeded(
      await target.docker(["run", "--rm", "-i", ...containerFlags(uniqueName("stdin")), BASE_IMAGE, "cat"], {
        input,
      }),
    );
    expect(result.stdout.length).toBe(input.length);
    expect(result.stdout.equals(input)).toBe(true);
  });

  it("run -t gives the process a TTY and its output arrives", async () => {
    const result = succeeded(
      await target.docker([
        "run",
        "--rm",
        "-t",
        ...containerFlags(uniqueName("tty")),
        BASE_IMAGE,
        "sh",
        "-c",
        "test -t 1 && echo tty-yes",
      ]),
    );
    // A TTY turns "\n" into "\r\n": proof the output went through a pseudo-terminal, unmultiplexed.
    expect(result.stdout.toString()).toBe("tty-yes\r\n");
  });
});

describe("docker CLI: version, info and errors", () => {
  it("version reports the engine behind the socket", async () => {
    const result = succeeded(await target.docker(["version", "--format", "{{json .Server}}"]));
    const server = JSON.parse(result.stdout.toString()) as { Version: string; ApiVersion: string };
    const direct = JSON.parse(
      succeeded(
        await runClient("docker", DIRECT_SOCKET, ["version", "--format", "{{json .Server}}"]),
      ).stdout.toString(),
    ) as { Version: string; ApiVersion: string };
    expect(server.Version).toBe(direct.Version);
    expect(server.ApiVersion).toBe(direct.ApiVersion);
  });

  it("info reports the same engine", async () => {
    const format = ["info", "--format", "{{json .}}"];
    const info = JSON.parse(succeeded(await target.docker(format)).stdout.toString()) as {
      ID: string;
      ServerVersion: string;
    };
    const direct = JSON.parse(
      succeeded(await runClient("docker", DIRECT_SOCKET, format)).stdout.toString(),
    ) as {
      ID: string;
      ServerVersion: string;
    };
    expect(info.ID).toBe(direct.ID);
    expect(info.ServerVersion).toBe(direct.ServerVersion);
  });

  it("relays Docker's own error for a missing container unchanged", async () => {
    const args = ["container", "inspect", uniqueName("missing")];
    const result = await target.docker(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`Error response from daemon: No such container: ${args[2]}\n`);
    const direct = await runClient("docker", DIRECT_SOCKET, args);
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: direct.code,
      stderr: direct.stderr,
    });
  });

  it("relays Docker's error for a missing image on run", async () => {
    const image = `${uniqueName("noimage")}:latest`;
    const result = await target.docker(["run", "--rm", ...containerFlags(uniqueName("run")), image]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`No such image: ${image}`);
  });
});
