import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { createLogger, lifecycleLogger } from "./logging.js";

describe("--metrics, --log-format, --log-level", () => {
  it("defaults: no metrics port, text logs at info", () => {
    expect(parseConfig([], {})).toMatchObject({ metrics: undefined, logFormat: "text", logLevel: "info" });
  });

  it("takes flags and POWERSTRIP_<NAME>", () => {
    expect(
      parseConfig(["--metrics", "tcp://127.0.0.1:9323", "--log-format", "json"], {
        POWERSTRIP_LOG_LEVEL: "debug",
      }),
    ).toMatchObject({ metrics: "tcp://127.0.0.1:9323", logFormat: "json", logLevel: "debug" });
  });

  it.each([
    ["tcp://0.0.0.0:9323", /loopback only/],
    ["unix:///tmp/m.sock", /expected tcp:\/\/127\.0\.0\.1:PORT/],
  ])("refuses --metrics %s", (address, message) => {
    expect(() => parseConfig(["--metrics", address], {})).toThrow(message);
  });

  it("refuses an unknown log format", () => {
    expect(() => parseConfig(["--log-format", "xml"], {})).toThrow(/Allowed choices are text, json/);
  });
});

describe("createLogger", () => {
  it("text: the daemon's own line, fields as key=value, levels above info named", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "text", level: "info", sink: { write: (l) => lines.push(l) } });
    logger.info("listening on unix:///x.sock");
    logger.warn({ adapter: "policy", requestId: "r1", failure: "timeout: no reply" }, "hook failed");
    logger.debug("not shown");
    expect(lines).toEqual([
      "powerstrip-proxy: listening on unix:///x.sock\n",
      'powerstrip-proxy: warn: hook failed adapter=policy requestId=r1 failure="timeout: no reply"\n',
    ]);
  });

  it("json: pino lines", () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "json", level: "debug", sink: { write: (l) => lines.push(l) } });
    logger.debug({ requestId: "r1" }, "hook allow");
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 20,
      name: "powerstrip-proxy",
      requestId: "r1",
      msg: "hook allow",
    });
  });
});

describe("lifecycleLogger", () => {
  it.each(["text", "json"] as const)(
    "%s: writes the readiness line whatever --log-level; the rest still follows the level",
    (format) => {
      const lines: string[] = [];
      const logger = createLogger({ format, level: "warn", sink: { write: (l) => lines.push(l) } });
      lifecycleLogger(logger).info("listening on unix:///x.sock");
      logger.info("not shown");
      logger.warn("adapter x failed: gone");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain("listening on unix:///x.sock");
      expect(lines[1]).toContain("adapter x failed: gone");
    },
  );
});
