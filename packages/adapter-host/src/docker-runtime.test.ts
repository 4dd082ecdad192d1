import { describe, expect, it } from "vitest";
import { Demuxer, DockerRuntime, dockerReason } from "./docker-runtime.js";
import { LOADER_LABEL, type LogChunk } from "./runtime.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("Demuxer", () => {
  it("splits Docker's multiplexed stream into stdout and stderr, across reads cut anywhere", () => {
    const bytes = Buffer.concat([frame(1, "hello\n"), frame(2, "oops\n"), frame(1, "bye\n")]);
    for (const cut of [1, 3, 8, 9, 13, 14, 20, bytes.length - 1]) {
      const demuxer = new Demuxer();
      const chunks: LogChunk[] = [
        ...demuxer.push(bytes.subarray(0, cut)),
        ...demuxer.push(bytes.subarray(cut)),
      ];
      expect(chunks.map((c) => `${c.stream}:${c.text}`).join("")).toBe(
        "stdout:hello\nstderr:oops\nstdout:bye\n",
      );
    }
  });
});

describe("dockerReason", () => {
  it("is the engine's message without dockerode's prefix", () => {
    expect(
      dockerReason({
        statusCode: 500,
        json: null,
        message:
          '(HTTP code 500) server error - Get "http://localhost:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused ',
      }),
    ).toBe('Get "http://localhost:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused');
    expect(
      dockerReason({
        statusCode: 409,
        json: { message: "Conflict. The container name is in use" },
        message: "x",
      }),
    ).toBe("Conflict. The container name is in use");
    expect(
      dockerReason(Object.assign(new Error("connect ENOENT /var/run/docker.sock"), { code: "ENOENT" })),
    ).toBe("cannot reach the Docker engine: ENOENT");
  });
});

describe("loader images", () => {
  /** A dockerode stand-in that records the container it is asked to create. */
  function fakeDocker(imageLabels: Record<string, string>) {
    const created: { HostConfig: { Binds: string[] } }[] = [];
    const docker = {
      getImage: () => ({ inspect: async () => ({ Config: { Labels: imageLabels } }) }),
      createContainer: async (spec: { HostConfig: { Binds: string[] } }) => {
        created.push(spec);
        return { id: "c1" };
      },
      getContainer: () => ({ start: async () => {} }),
    };
    return { docker: docker as unknown as ConstructorParameters<typeof DockerRuntime>[0], created };
  }
  const spec = {
    name: "powerstrip-x",
    image: "acme/x",
    env: {},
    labels: {},
    socketDir: "/s/x",
    network: "none",
  };

  it("mounts the engine socket into a loader image's container when allowed, and only there", async () => {
    const loader = fakeDocker({ [LOADER_LABEL]: "true" });
    await new DockerRuntime(loader.docker, { engineSocket: "/var/run/docker.sock" }).createAndStart({
      ...spec,
      allowDocker: true,
    });
    expect(loader.created[0]!.HostConfig.Binds).toEqual([
      "/s/x:/run/powerstrip",
      "/var/run/docker.sock:/var/run/docker.sock",
    ]);
    const plain = fakeDocker({});
    await new DockerRuntime(plain.docker, { engineSocket: "/var/run/docker.sock" }).createAndStart({
      ...spec,
      allowDocker: true,
    });
    expect(plain.created[0]!.HostConfig.Binds).toEqual(["/s/x:/run/powerstrip"]);
  });

  it("refuses a loader image the operator did not allow the engine socket, creating nothing", async () => {
    const loader = fakeDocker({ [LOADER_LABEL]: "true" });
    const runtime = new DockerRuntime(loader.docker, { engineSocket: "/var/run/docker.sock" });
    await expect(runtime.createAndStart(spec)).rejects.toMatchObject({
      code: "NOT_ALLOWED",
      message:
        "acme/x is a loader image (label io.powerstrip.loader=true): it runs containers through the Docker engine's socket, which gives it control of this host; add --allow-docker to grant that",
    });
    expect(loader.created).toEqual([]);
  });

  it("refuses a loader image when the engine is not on a unix socket", async () => {
    const loader = fakeDocker({ [LOADER_LABEL]: "true" });
    await expect(
      new DockerRuntime(loader.docker).createAndStart({ ...spec, allowDocker: true }),
    ).rejects.toMatchObject({
      code: "ADAPTER_START_FAILED",
    });
    expect(loader.created).toEqual([]);
  });
});
