import { describe, expect, it } from "vitest";
import { formatTraceEvent, traceUrl } from "./trace.js";

describe("powerstrip trace", () => {
  it("connects to /trace on the admin socket, filters as query parameters", () => {
    expect(traceUrl("unix:///run/powerstrip/admin.sock", { adapters: ["a", "b"], path: "/containers" })).toBe(
      "ws+unix:///run/powerstrip/admin.sock:/trace?adapter=a&adapter=b&path=%2Fcontainers",
    );
    expect(traceUrl("tcp://127.0.0.1:7000", {})).toBe("ws://127.0.0.1:7000/trace");
  });

  it("prints one aligned line per event", () => {
    const base = {
      type: "hook" as const,
      time: "2026-11-29T10:15:02.114Z",
      requestId: "5f0c3f2e-8d0b-4c1e-9a57-0d7b8f0f6a11",
      stage: "pre" as const,
      hook: "POST /containers/create",
      method: "POST",
      path: "/containers/create",
      shadow: false,
    };
    const deny = formatTraceEvent({
      ...base,
      adapter: "deny-privileged",
      durationMs: 1.84,
      decision: "would-deny",
      shadow: true,
      status: 403,
      message: "no privileged containers",
    });
    const rewrite = formatTraceEvent({
      ...base,
      adapter: "labels",
      durationMs: 12.5,
      decision: "rewrite",
      changes: ["body /HostConfig/Privileged: true → false", "query +all=1"],
    });
    expect(deny).toBe(
      '10:15:02.114  5f0c3f2e  pre   deny-privileged       would-deny           1.8ms  POST /containers/create  403  "no privileged containers"\n',
    );
    expect(rewrite).toBe(
      "10:15:02.114  5f0c3f2e  pre   labels                rewrite             12.5ms  POST /containers/create  body /HostConfig/Privileged: true → false; query +all=1\n",
    );
    // The columns line up.
    expect(deny.indexOf("POST")).toBe(rewrite.indexOf("POST"));
    expect(formatTraceEvent({ type: "dropped", time: base.time, dropped: 3 })).toBe(
      "10:15:02.114  -- 3 events dropped (this watcher read too slowly)\n",
    );
  });
});
