// kill -9 right after `powerstrip load` returns, then a restart on the same state dir: both an
// adapter loaded by URL and one loaded from an image (not from the boot list, which
// adapters.test.ts covers) come back, hooked as before, the image adapter in the same container;
// an adapter loaded in shadow mode comes back in shadow mode.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineAdapter, type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import {
  BASE_IMAGE,
  containerFlags,
  DIRECT_SOCKET,
  dockerodeFor,
  removeLabelled,
  runClient,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildAdapterImage,
  removeAdapterContainers,
  removeImages,
} from "../../../packages/adapter-host/test/support/adapter-image.js";
import { type Daemon, kill9, powerstrip, said, startDaemon } from "./support/daemon.js";

const engine = dockerodeFor(DIRECT_SOCKET);
const IMAGE_ADAPTER = uniqueName("kill-img");
const IMAGE = `pst-test/${IMAGE_ADAPTER}:1`;
const URL_ADAPTER = uniqueName("kill-url");
const URL_LABEL = "io.powerstrip.url-seen";

const dir = mkdtempSync(join(tmpdir(), "pst-kill-restart-"));
const socket = join(dir, "docker.sock");
const admin = `unix://${join(dir, "admin.sock")}`;
const stateDir = join(dir, "state");
const daemons: Daemon[] = [];
let urlAdapter: RunningAdapter | undefined;

function start(): Daemon {
  const daemon = startDaemon(["--listen", `unix://${socket}`, "--admin", admin, "--state-dir", stateDir]);
  daemons.push(daemon);
  return daemon;
}

/** The labels both adapters put on a container created through the proxy, read from the engine. */
async function createThroughProxy(): Promise<Record<string, string>> {
  const name = uniqueName("through");
  succeeded(await runClient("docker", socket, ["create", ...containerFlags(name), BASE_IMAGE, "true"]));
  return (await engine.getContainer(name).inspect()).Config.Labels;
}

beforeAll(async () => {
  await buildAdapterImage(IMAGE, IMAGE_ADAPTER);
  // The URL adapter runs outside the proxy (as `load --url` means): it outlives the kill.
  urlAdapter = await serve(
    defineAdapter({
      name: URL_ADAPTER,
      hooks: {
        "POST /containers/create": {
          pre(ctx) {
            const body = ctx.body as { Labels?: Record<string, string> | null };
            return { body: { ...body, Labels: { ...body.Labels, [URL_LABEL]: URL_ADAPTER } } };
          },
        },
      },
    }),
    {
      socket: join(dir, "url-adapter.sock"),
      handleSignals: false,
      logger: { info() {}, warn() {}, error() {} },
    },
  );
});

afterAll(async () => {
  await Promise.all(daemons.map(kill9));
  await urlAdapter?.close();
  await removeAdapterContainers(IMAGE_ADAPTER);
  await removeLabelled();
  await removeImages(IMAGE);
  rmSync(dir, { recursive: true, force: true });
});

describe("kill -9 and restart", () => {
  it("loses no adapter registration: load --url and load IMAGE come back ready and hooked", async () => {
    const first = start();
    await said(first, /listening on/, "the daemon to listen");
    expect(await powerstrip(admin, "load", "--url", urlAdapter!.address, "-q")).toMatchObject({ code: 0 });
    expect(await powerstrip(admin, "load", IMAGE, "-q")).toMatchObject({ code: 0 });
    // Killed the moment the loads returned: what they reported must already be on disk.
    await kill9(first);

    const saved = JSON.parse(readFileSync(join(stateDir, "adapters.json"), "utf8"));
    expect(saved.adapters).toEqual(
      expect.arrayContaining([
        { name: URL_ADAPTER, source: "url", url: urlAdapter!.address },
        { name: IMAGE_ADAPTER, source: "image", image: IMAGE },
      ]),
    );
    const [container] = await engine.listContainers({
      all: true,
      filters: { label: [`io.powerstrip.adapter=${IMAGE_ADAPTER}`] },
    });
    expect(container?.State).toBe("running"); // adapter containers outlive the proxy

    const second = start();
    await said(second, /listening on/, "the daemon to listen");
    await said(second, new RegExp(`adapter ${URL_ADAPTER} ready`), "the URL adapter to come back");
    await said(second, new RegExp(`adapter ${IMAGE_ADAPTER} ready`), "the image adapter to be re-adopted");

    const listed = JSON.parse((await powerstrip(admin, "ls", "--json")).stdout) as {
      name: string;
      state: string;
      container?: { id: string };
    }[];
    expect(listed.map((a) => [a.name, a.state]).sort()).toEqual(
      [
        [IMAGE_ADAPTER, "ready"],
        [URL_ADAPTER, "ready"],
      ].sort(),
    );
    expect(listed.find((a) => a.name === IMAGE_ADAPTER)?.container?.id).toBe(container!.Id);

    const labels = await createThroughProxy();
    expect(labels["io.powerstrip.seen"]).toBe(IMAGE_ADAPTER);
    expect(labels[URL_LABEL]).toBe(URL_ADAPTER);

    expect((await powerstrip(admin, "unload", IMAGE_ADAPTER)).code).toBe(0);
    expect((await powerstrip(admin, "unload", URL_ADAPTER)).code).toBe(0);
  });

  it("keeps shadow mode: a deny-everything adapter loaded --shadow still denies nothing after the restart", async () => {
    const name = uniqueName("kill-shadow");
    const denier = await serve(
      defineAdapter({
        name,
        hooks: { "POST /containers/create": { pre: (ctx) => ctx.deny(403, "denied by the shadow test") } },
      }),
      {
        socket: join(dir, "shadow.sock"),
        handleSignals: false,
        logger: { info() {}, warn() {}, error() {} },
      },
    );
    try {
      await Promise.all(daemons.map(kill9)); // the first test's daemon holds the socket
      const first = start();
      await said(first, /listening on/, "the daemon to listen");
      expect(await powerstrip(admin, "load", "--url", denier.address, "--shadow", "-q")).toMatchObject({
        code: 0,
      });
      await kill9(first);

      const second = start();
      await said(second, new RegExp(`adapter ${name} ready`), "the shadow adapter to come back");
      const listed = JSON.parse((await powerstrip(admin, "ls", "--json")).stdout) as {
        name: string;
        shadow?: boolean;
      }[];
      expect(listed.find((a) => a.name === name)?.shadow).toBe(true);
      // Were shadow mode lost, the adapter's deny would fail this create.
      await createThroughProxy();
      expect((await powerstrip(admin, "unload", name)).code).toBe(0);
    } finally {
      await denier.close();
    }
  });
});
