import { join } from "node:path";
import { defineAdapter, type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { validateAdapterList } from "@powerstrip/protocol";
import {
  BASE_IMAGE,
  containerFlags,
  isDirectMode,
  RUN_LABEL,
  removeLabelled,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelsOf, type Stack, startStack } from "./stack.js";

// An image that does not exist: the adapter denies it before Docker would say so.
const DENIED_IMAGE = "powerstrip/base-node:deny-me";
const DENY_MESSAGE = `label-guard: ${DENIED_IMAGE} is not allowed on this host`;
const SEEN_LABEL = "io.powerstrip.seen";
const silent = { info() {}, warn() {}, error() {} };

/** A third-party adapter, as small as the SDK lets it be. */
const labelGuard = defineAdapter({
  name: "label-guard",
  priority: 100,
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        const body = ctx.body as { Image?: string; Labels?: Record<string, string> | null };
        if (body.Image === DENIED_IMAGE) return ctx.deny(403, DENY_MESSAGE);
        return { body: { ...body, Labels: { ...body.Labels, [SEEN_LABEL]: "label-guard" } } };
      },
    },
  },
});

describe.skipIf(isDirectMode())("powerstrip load --url: a v2 adapter hooks docker CLI calls", () => {
  let stack: Stack;
  let adapter: RunningAdapter;

  beforeAll(async () => {
    stack = await startStack();
    adapter = await serve(labelGuard, {
      socket: join(stack.dir, "label-guard.sock"),
      handleSignals: false,
      logger: silent,
    });
  });
  afterAll(async () => {
    await removeLabelled();
    await stack?.close();
    await adapter?.close();
  });

  it("loads it with the CLI, and ls --json shows it ready", async () => {
    const loaded = await stack.cli("load", "--url", adapter.address);
    expect(loaded).toEqual({
      code: 0,
      stdout: `loaded label-guard (1 hook) from ${adapter.address}\n`,
      stderr: "",
    });
    const ls = await stack.cli("ls", "--json");
    expect(ls.code).toBe(0);
    const list = JSON.parse(ls.stdout);
    expect(validateAdapterList(list).ok).toBe(true);
    expect(list).toEqual([
      expect.objectContaining({
        name: "label-guard",
        source: adapter.address,
        kind: "url",
        state: "ready",
        priority: 100,
        hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
      }),
    ]);
  });

  it("docker create of a denied image prints the adapter's message", async () => {
    const result = await stack.target.docker(["create", ...containerFlags(uniqueName("deny")), DENIED_IMAGE]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Error response from daemon: ${DENY_MESSAGE}`);
  });

  it("docker run of a denied image prints the adapter's message", async () => {
    const result = await stack.target.docker([
      "run",
      "--rm",
      ...containerFlags(uniqueName("deny")),
      DENIED_IMAGE,
    ]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(DENY_MESSAGE);
  });

  it("docker run of any other image gets the label, and keeps its own", async () => {
    const name = uniqueName("labelled");
    const run = succeeded(
      await stack.target.docker(["run", ...containerFlags(name), BASE_IMAGE, "sh", "-c", "echo hello"]),
    );
    expect(run.stdout.toString()).toBe("hello\n");
    const labels = await labelsOf(stack.target, name);
    expect(labels[SEEN_LABEL]).toBe("label-guard");
    expect(labels[TEST_LABEL]).toBe(RUN_LABEL.split("=")[1]);
  });

  it("unload takes it out: calls pass untouched again", async () => {
    expect(await stack.cli("unload", "label-guard")).toEqual({
      code: 0,
      stdout: "unloaded label-guard\n",
      stderr: "",
    });
    expect(JSON.parse((await stack.cli("ls", "--json")).stdout)).toEqual([]);
    expect(stack.proxy.hooks.list()).toEqual([]);

    const name = uniqueName("plain");
    succeeded(await stack.target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect(await labelsOf(stack.target, name)).not.toHaveProperty(SEEN_LABEL);

    // The engine itself now answers for the missing image.
    const missing = await stack.target.docker([
      "create",
      ...containerFlags(uniqueName("deny")),
      DENIED_IMAGE,
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).not.toContain(DENY_MESSAGE);
    expect(missing.stderr).toMatch(/No such image/i);
  });
});
