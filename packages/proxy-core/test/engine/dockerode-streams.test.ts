import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  type DockerTarget,
  demux,
  openTarget,
  removeLabelled,
  StreamCollector,
  testLabels,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
let docker: Docker;
beforeAll(async () => {
  target = await openTarget(startProxy);
  docker = target.dockerode();
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

const stdoutOf = (bytes: Buffer): string => demux(bytes).stdout.toString();

describe("dockerode: streams", () => {
  it("logs with follow streams lines live and ends when the container stops", async () => {
    const container = await docker.createContainer({
      name: uniqueName("logs"),
      Image: BASE_IMAGE,
      Cmd: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.2; done"],
      Labels: testLabels(),
    });
    await container.start();
    const stream = await container.logs({ follow: true, stdout: true, stderr: true });
    const logs = new StreamCollector(stream);
    await logs.waitFor((b) => stdoutOf(b).includes("line3\n"), 15_000, "line3 in the followed logs");
    expect(logs.ended).toBe(false);

    await container.kill();
    const all = await logs.waitForEnd(15_000);
    expect(logs.ended).toBe(true);
    expect(stdoutOf(all)).toMatch(/^line1\nline2\nline3\n(line\d+\n)*$/);
  });

  it("attach with hijack carries stdin and stdout, and ending stdin ends the container", async () => {
    const container = await docker.createContainer({
      name: uniqueName("attach"),
      Image: BASE_IMAGE,
      Cmd: ["cat"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: testLabels(),
    });
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as NodeJS.ReadWriteStream;
    const output = new StreamCollector(stream);
    await container.start();

    stream.write("hello over attach\n");
    await output.waitFor((b) => stdoutOf(b) === "hello over attach\n", 15_000, "the echo of stdin");
    stream.end();
    await output.waitForEnd(15_000);
    const result = (await withTimeout(container.wait(), 15_000, "cat to exit")) as { StatusCode: number };
    expect(result.StatusCode).toBe(0);
  });

  it("exec with hijack carries stdin and stdout, and ending stdin ends the exec", async () => {
    const container = await docker.createContainer({
      name: uniqueName("exec"),
      Image: BASE_IMAGE,
      Cmd: ["sleep", "infinity"],
      Labels: testLabels(),
    });
    await container.start();
    const exec = await container.exec({
      Cmd: ["cat"],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: true })) as NodeJS.ReadWriteStream;
    const output = new StreamCollector(stream);

    stream.write("hello over exec\n");
    await output.waitFor((b) => stdoutOf(b) === "hello over exec\n", 15_000, "the echo of stdin");
    stream.end();
    await output.waitForEnd(15_000);
    const state = await exec.inspect();
    expect(state.Running).toBe(false);
    expect(state.ExitCode).toBe(0);
  });
});
