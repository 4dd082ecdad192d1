import { Observers } from "@powerstrip/proxy-core";
import { describe, expect, it } from "vitest";
import { createLogger, logDataPath } from "./logging.js";

describe("the debug exchange line", () => {
  it("carries the request id and path, so it joins the request's hook lines (issue #7)", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "json", level: "debug", sink: { write: (l) => lines.push(l) } });
    const observers = new Observers();
    logDataPath(logger, observers);
    // The proxy makes ids for pass-through exchanges only while someone asks, as this logger does.
    expect(observers.requestIds).toBe(true);
    observers.exchange({
      requestId: "r-1",
      method: "GET",
      path: "/v1.41/containers/json",
      status: 200,
      hooked: false,
      bytesIn: 10,
      bytesOut: 20,
    });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      msg: "exchange",
      requestId: "r-1",
      method: "GET",
      path: "/v1.41/containers/json",
      status: 200,
    });
  });

  it("is not asked for (nor are ids made) below debug", () => {
    const observers = new Observers();
    logDataPath(createLogger({ format: "json", level: "info", sink: { write: () => {} } }), observers);
    expect(observers.requestIds).toBe(false);
  });
});
