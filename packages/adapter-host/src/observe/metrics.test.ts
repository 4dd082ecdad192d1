import { type HookCallRecord, Observers } from "@powerstrip/proxy-core";
import { describe, expect, it } from "vitest";
import { ProxyMetrics } from "./metrics.js";

function record(adapter: string, extra: Partial<HookCallRecord> = {}): HookCallRecord {
  return {
    time: Date.now(),
    requestId: "r1",
    adapter,
    stage: "pre",
    hook: "POST /containers/create",
    method: "POST",
    path: "/containers/create",
    durationMs: 2,
    decision: "allow",
    shadow: false,
    ...extra,
  };
}

/** The exposition lines that name `adapter`. */
async function seriesOf(metrics: ProxyMetrics, adapter: string): Promise<string[]> {
  const { body } = await metrics.text();
  return body.split("\n").filter((line) => line.includes(`adapter="${adapter}"`));
}

describe("ProxyMetrics", () => {
  it("forget() removes every series of an unloaded adapter, and only its", async () => {
    const observers = new Observers();
    const metrics = new ProxyMetrics();
    metrics.observe(observers);
    for (const adapter of ["gone", "kept"]) {
      observers.hookCall(record(adapter));
      observers.hookCall(record(adapter, { decision: "deny", status: 403, warnings: ["w"] }));
      observers.hookCall(
        record(adapter, { decision: "failed", failure: { kind: "timeout", message: "timed out" } }),
      );
    }
    expect(await seriesOf(metrics, "gone")).not.toEqual([]);
    const kept = await seriesOf(metrics, "kept");

    metrics.forget("gone");
    expect(await seriesOf(metrics, "gone")).toEqual([]);
    expect(await seriesOf(metrics, "kept")).toEqual(kept);

    // Loaded again under the same name: counted from zero.
    observers.hookCall(record("gone"));
    expect(await seriesOf(metrics, "gone")).toContain(
      'powerstrip_hook_calls_total{adapter="gone",stage="pre",decision="allow",shadow="false"} 1',
    );
    metrics.forget("never-seen");
  });

  it("counts repeated calls on one cached series", async () => {
    const observers = new Observers();
    const metrics = new ProxyMetrics();
    metrics.observe(observers);
    for (let i = 0; i < 3; i++) observers.hookCall(record("a", { shadow: true, decision: "would-deny" }));
    const lines = await seriesOf(metrics, "a");
    expect(lines).toContain(
      'powerstrip_hook_calls_total{adapter="a",stage="pre",decision="would-deny",shadow="true"} 3',
    );
    expect(lines).toContain('powerstrip_hook_denials_total{adapter="a",shadow="true"} 3');
    expect(lines).toContain('powerstrip_hook_duration_seconds_count{adapter="a",stage="pre"} 3');
  });
});
