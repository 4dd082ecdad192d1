// Adapters that fail in every way we know of, loaded as an operator loads them (`powerstrip load
// --url` over the admin API) into the proxy, adapter host and admin server wired as the daemon
// wires them, in front of the real engine. Clients are the real ones: raw HTTP (exact bytes and
// keep-alive), the docker CLI and dockerode. Under "fail" each fault gives a prompt Docker-shaped
// error naming the adapter; under "ignore" the call passes; either way the proxy keeps serving.
import { MAX_REPLY_BYTES } from "@powerstrip/proxy-core";
import { isDirectMode, RawConnection, RUN_LABEL } from "@powerstrip/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
// The in-process daemon (proxy + adapter host + admin socket) the CLI's engine tests use.
import { type Stack, startStack } from "../../../packages/cli/test/stack.js";
import { type Fault, type FaultAdapter, startFaultAdapter } from "./support/fault-adapter.js";

/** The hooked call: a container listing narrowed to this run's label, so the engine answers fast. */
const FILTERS = encodeURIComponent(JSON.stringify({ label: [RUN_LABEL] }));
const LIST = `/v1.41/containers/json?filters=${FILTERS}`;
const HOOKS = [{ method: "GET", path: "/containers/json" }];
/** A prompt answer: the adapter's timeout, plus this for everything else. */
const PROMPT_MARGIN_MS = 2_000;

const ALLOW = JSON.stringify({ action: "allow" });

interface Case {
  what: string;
  timeoutMs: number;
  fault: Fault | "gone";
  status: number;
  detail: RegExp;
}

const cases: Case[] = [
  {
    what: "a timeout",
    timeoutMs: 300,
    fault: { kind: "hang" },
    status: 504,
    detail: /timed out after 300 ms/,
  },
  {
    what: "a crash mid-call (connection dropped after reading the call)",
    timeoutMs: 2_000,
    fault: { kind: "crash" },
    status: 502,
    detail: /cannot reach it: ECONNRESET|socket hang up/,
  },
  {
    what: "a crash mid-reply (connection dropped halfway through the body)",
    timeoutMs: 2_000,
    fault: { kind: "crash-mid-reply", text: ALLOW },
    status: 502,
    detail: /the connection was cut mid-reply/,
  },
  {
    what: "an adapter process that is gone",
    timeoutMs: 2_000,
    fault: "gone",
    status: 502,
    detail: /cannot reach it: (ENOENT|ECONNREFUSED)/,
  },
  {
    what: "a non-JSON reply",
    timeoutMs: 2_000,
    fault: { kind: "raw", text: "<html>502 Bad Gateway</html>" },
    status: 502,
    detail: /reply is not JSON: "<html>502 Bad Gateway<\/html>"/,
  },
  {
    what: "truncated JSON",
    timeoutMs: 2_000,
    fault: { kind: "raw", text: '{"action": "al' },
    status: 502,
    detail: /reply is not JSON/,
  },
  {
    what: "a reply against the schema (unknown action)",
    timeoutMs: 2_000,
    fault: { kind: "json", body: { action: "explode" } },
    status: 502,
    detail: /invalid pre-hook reply/,
  },
  {
    what: "a reply against the schema (a deny without status)",
    timeoutMs: 2_000,
    fault: { kind: "json", body: { action: "deny", message: "no" } },
    status: 502,
    detail: /invalid pre-hook reply/,
  },
  {
    what: "a reply of the wrong type (an array)",
    timeoutMs: 2_000,
    fault: { kind: "json", body: [1, 2, 3] },
    status: 502,
    detail: /invalid pre-hook reply/,
  },
  {
    what: "an HTML error page (HTTP 500)",
    timeoutMs: 2_000,
    fault: { kind: "raw", text: "<h1>Internal Server Error</h1>", status: 500 },
    status: 502,
    detail: /answered HTTP 500: <h1>Internal Server Error<\/h1>/,
  },
  {
    what: "a valid reply sent byte by byte, slower than the timeout",
    timeoutMs: 500,
    fault: { kind: "dribble", text: ALLOW, intervalMs: 100 },
    status: 504,
    detail: /timed out after 500 ms/,
  },
  {
    what: "a reply declaring more than the reply limit",
    timeoutMs: 5_000,
    fault: { kind: "huge", bytes: MAX_REPLY_BYTES + 1024 * 1024 },
    status: 502,
    detail: /reply larger than 16 MiB, the limit for adapter replies/,
  },
  {
    what: "an endless chunked reply",
    timeoutMs: 5_000,
    fault: { kind: "endless" },
    status: 502,
    detail: /reply larger than 16 MiB, the limit for adapter replies/,
  },
];

describe.skipIf(isDirectMode())("adapter faults, loaded with powerstrip load --url", () => {
  let stack: Stack;
  const adapters: { name: string; fake: FaultAdapter }[] = [];

  beforeAll(async () => {
    stack = await startStack();
  });
  afterEach(async () => {
    for (const { name, fake } of adapters.splice(0)) {
      const unloaded = await stack.cli("unload", name);
      expect(unloaded.stderr).toBe("");
      await fake.close();
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  let counter = 0;
  async function load(
    policy: "fail" | "ignore",
    c: Pick<Case, "timeoutMs" | "fault">,
    hooks: Parameters<typeof startFaultAdapter>[0]["hooks"] = HOOKS,
  ): Promise<string> {
    const name = `fault-${policy}-${++counter}`;
    const fault = c.fault;
    const fake = await startFaultAdapter({
      name,
      failurePolicy: policy,
      timeoutMs: c.timeoutMs,
      hooks,
      fault: () => (fault === "gone" ? { kind: "json", body: { action: "allow" } } : fault),
    });
    adapters.push({ name, fake });
    const loaded = await stack.cli("load", "--url", fake.url);
    expect(loaded).toMatchObject({ code: 0, stderr: "" });
    if (fault === "gone") await fake.close();
    return name;
  }

  /** One raw call: status, JSON body and how long it took; then a _ping on the same connection. */
  async function rawCall(timeoutMs: number) {
    const connection = await RawConnection.open(stack.target.socketPath);
    try {
      const started = Date.now();
      connection.send({ method: "GET", path: LIST });
      const response = await connection.readResponse("GET", timeoutMs + PROMPT_MARGIN_MS);
      const elapsed = Date.now() - started;
      // The connection is still in sync: the next request on it is served.
      connection.send({ method: "GET", path: "/_ping" });
      const ping = await connection.readResponse("GET", 5_000);
      return { response, elapsed, ping, body: JSON.parse(response.body.toString()) as unknown };
    } finally {
      connection.destroy();
    }
  }

  function policyMessage(name: string, detail: RegExp): RegExp {
    return new RegExp(
      `^powerstrip: adapter "${name}" failed \\((${detail.source})[^]*\\); its failure policy is to fail closed$`,
    );
  }

  describe.each(cases)("$what", (c) => {
    it("fail: a prompt Docker-shaped error naming the adapter, to raw HTTP, the docker CLI and dockerode", async () => {
      const name = await load("fail", c);

      const raw = await rawCall(c.timeoutMs);
      expect(raw.response.status).toBe(c.status);
      expect(raw.response.headers["content-type"]).toBe("application/json");
      expect(raw.body).toEqual({ message: expect.stringMatching(policyMessage(name, c.detail)) });
      expect(raw.elapsed).toBeLessThan(c.timeoutMs + PROMPT_MARGIN_MS);
      expect(raw.ping.status).toBe(200);

      const cli = await stack.target.docker(["ps", "--filter", `label=${RUN_LABEL}`], {
        timeoutMs: c.timeoutMs + 10_000,
      });
      expect(cli.code).toBe(1);
      // The adapter's detail may differ between two calls (ECONNRESET or socket hang up): compare the shape.
      expect(cli.stderr).toMatch(
        new RegExp(`^Error response from daemon: ${policyMessage(name, c.detail).source.slice(1)}`, "m"),
      );

      const error = await stack.target
        .dockerode()
        .listContainers({ filters: { label: [RUN_LABEL] } })
        .then(
          () => undefined,
          (e: { statusCode?: number; json?: { message?: string } }) => e,
        );
      expect(error?.statusCode).toBe(c.status);
      expect(error?.json?.message).toMatch(policyMessage(name, c.detail));
    });

    it("ignore: the call passes as if the adapter were not there", async () => {
      await load("ignore", c);
      const raw = await rawCall(c.timeoutMs);
      expect(raw.response.status).toBe(200);
      expect(raw.body).toEqual([]);
      expect(raw.ping.status).toBe(200);
      const cli = await stack.target.docker(["ps", "-q", "--filter", `label=${RUN_LABEL}`], {
        timeoutMs: c.timeoutMs + 10_000,
      });
      expect(cli).toMatchObject({ code: 0, stderr: "" });
    });
  });

  // A post-hook that reads the response body holds the response until it answers: its faults
  // replace the response (fail) or leave Docker's (ignore).
  describe.each(cases.filter((c) => c.fault !== "gone" && c.fault.kind !== "json"))(
    "post-hook: $what",
    (c) => {
      const post = [{ method: "GET", path: "/containers/json", stage: "post" as const, needsBody: true }];
      it("fail: the response is replaced by the error naming the adapter; ignore: Docker's answer", async () => {
        const failing = await load("fail", c, post);
        const failed = await rawCall(c.timeoutMs);
        expect(failed.response.status).toBe(c.status);
        expect(failed.body).toEqual({ message: expect.stringMatching(policyMessage(failing, c.detail)) });
        expect(failed.elapsed).toBeLessThan(c.timeoutMs + PROMPT_MARGIN_MS);
        expect(failed.ping.status).toBe(200);
        expect((await stack.cli("unload", failing)).code).toBe(0);
        await adapters
          .splice(
            adapters.findIndex((a) => a.name === failing),
            1,
          )[0]!
          .fake.close();

        await load("ignore", c, post);
        const passed = await rawCall(c.timeoutMs);
        expect(passed.response.status).toBe(200);
        expect(passed.body).toEqual([]);
      });
    },
  );

  it("reads no further than the limit: an endless reply is cut at 16 MiB, and the adapter sees the cut", async () => {
    const name = await load("fail", { timeoutMs: 5_000, fault: { kind: "endless" } });
    const fake = adapters.find((a) => a.name === name)!.fake;
    for (let i = 0; i < 3; i++) {
      const raw = await rawCall(5_000);
      expect(raw.response.status).toBe(502);
    }
    expect(fake.calls).toBe(3);
    expect(fake.cutWhileWriting).toBe(3);
    // What the adapter managed to write: the limit, plus at most what socket buffers held, per call.
    expect(fake.bytesWritten).toBeLessThan(3 * (MAX_REPLY_BYTES + 8 * 1024 * 1024));
  });

  it("a reply sent byte by byte within the timeout is taken, under either policy", async () => {
    for (const policy of ["fail", "ignore"] as const) {
      const name = await load(policy, {
        timeoutMs: 3_000,
        fault: { kind: "dribble", text: ALLOW, intervalMs: 40 },
      });
      const raw = await rawCall(3_000);
      expect(raw.response.status, name).toBe(200);
      expect(raw.body).toEqual([]);
      // It did take its time: the reply was not skipped.
      expect(raw.elapsed).toBeGreaterThanOrEqual(ALLOW.length * 40 - 100);
    }
  });

  it("100 concurrent calls into a hung adapter all get their error in time; then the proxy serves", async () => {
    const name = await load("fail", { timeoutMs: 300, fault: { kind: "hang" } });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 100 }, () => rawCall(300)));
    expect(Date.now() - started).toBeLessThan(300 + PROMPT_MARGIN_MS);
    for (const { response, body, ping } of results) {
      expect(response.status).toBe(504);
      expect(body).toEqual({ message: expect.stringMatching(policyMessage(name, /timed out after 300 ms/)) });
      expect(ping.status).toBe(200);
    }
    // Unloaded, the adapter leaves nothing behind: the listing passes untouched.
    expect((await stack.cli("unload", name)).code).toBe(0);
    await adapters
      .splice(
        adapters.findIndex((a) => a.name === name),
        1,
      )[0]!
      .fake.close();
    const after = await rawCall(1_000);
    expect(after.response.status).toBe(200);
    expect(stack.proxy.hooks.list()).toEqual([]);
  });
});
