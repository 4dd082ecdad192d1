// A bounded soak, small enough for every test run (bench/ has the 20,000-call one): 2,000 calls at
// concurrency 32 through the proxy, each hooked by two adapters loaded with `powerstrip load
// --url`, the first of which fails one call in ten (crashing, timing out, erroring, answering
// garbage, in turn). Every call must be answered — by Docker, or by the policy error naming the
// failing adapter — and none may hang or be lost; the proxy must serve on afterwards.
import { isDirectMode, RawConnection, RUN_LABEL } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../../packages/cli/test/stack.js";
import { type Fault, type FaultAdapter, startFaultAdapter } from "./support/fault-adapter.js";

const CALLS = 2_000;
const CONCURRENCY = 32;
/** Past this a call counts as hung (the failing adapter's timeout is 250 ms). */
const CALL_TIMEOUT_MS = 5_000;
const FILTERS = encodeURIComponent(JSON.stringify({ label: [RUN_LABEL] }));
const PATH = `/v1.41/containers/json?filters=${FILTERS}`;
const HOOKS = [{ method: "GET", path: "/containers/json" }];
const ALLOW: Fault = { kind: "json", body: { action: "allow" } };
/** The failures injected, in turn, on every tenth call. */
const FAILURES: Fault[] = [
  { kind: "raw", text: '{"message":"soak: injected"}', status: 500 },
  { kind: "crash" },
  { kind: "hang" },
  { kind: "raw", text: "not json" },
  { kind: "json", body: { action: "explode" } },
];

describe.skipIf(isDirectMode())("soak: 2,000 calls, two hooked adapters, 10% adapter failures", () => {
  let stack: Stack;
  let flaky: FaultAdapter;
  let steady: FaultAdapter;
  let injected = 0;

  beforeAll(async () => {
    stack = await startStack();
    let call = 0;
    flaky = await startFaultAdapter({
      name: "soak-a",
      failurePolicy: "fail",
      timeoutMs: 250,
      hooks: HOOKS,
      fault: () => {
        if (call++ % 10 !== 0) return ALLOW;
        return FAILURES[injected++ % FAILURES.length]!;
      },
    });
    steady = await startFaultAdapter({
      name: "soak-b",
      failurePolicy: "fail",
      timeoutMs: 2_000,
      hooks: HOOKS,
      fault: () => ALLOW,
    });
    for (const fake of [flaky, steady]) {
      expect((await stack.cli("load", "--url", fake.url)).code).toBe(0);
    }
  });
  afterAll(async () => {
    await stack?.close();
    await flaky?.close();
    await steady?.close();
  });

  it("answers every call, by Docker or by a policy error naming the adapter; none hung or lost", async () => {
    const tally = { docker: 0, policy: 0, other: [] as string[], hung: 0, sent: 0 };
    const policy = /^powerstrip: adapter "soak-a" failed \(.+\); its failure policy is to fail closed$/;
    const worker = async () => {
      let connection = await RawConnection.open(stack.target.socketPath);
      while (tally.sent < CALLS) {
        tally.sent++;
        connection.send({ method: "GET", path: PATH });
        let response: Awaited<ReturnType<RawConnection["readResponse"]>>;
        try {
          response = await connection.readResponse("GET", CALL_TIMEOUT_MS);
        } catch (error) {
          if (/timed out/.test(String(error))) tally.hung++;
          else tally.other.push(String(error));
          connection.destroy();
          connection = await RawConnection.open(stack.target.socketPath);
          continue;
        }
        const body = response.body.toString();
        if (response.status === 200 && body === "[]\n") tally.docker++;
        else if ([502, 504].includes(response.status) && policy.test(JSON.parse(body).message))
          tally.policy++;
        else tally.other.push(`${response.status} ${body.slice(0, 200)}`);
      }
      connection.destroy();
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;

    expect(tally.other).toEqual([]);
    expect(tally.hung).toBe(0);
    expect(tally.docker + tally.policy).toBe(CALLS);
    // Every injected failure, and only those, became a policy error; the rest reached both adapters.
    expect(flaky.calls).toBe(CALLS);
    expect(tally.policy).toBe(CALLS / 10);
    expect(injected).toBe(CALLS / 10);
    expect(steady.calls).toBe(tally.docker);
    expect(elapsed).toBeLessThan(20_000);

    // And it serves on: the adapters unload cleanly, and the docker CLI works through the same proxy.
    expect((await stack.cli("unload", "soak-a")).code).toBe(0);
    expect((await stack.cli("unload", "soak-b")).code).toBe(0);
    const ps = await stack.target.docker(["ps", "-q", "--filter", `label=${RUN_LABEL}`]);
    expect(ps).toMatchObject({ code: 0, stderr: "" });
  });
});
