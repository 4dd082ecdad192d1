import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

describe("parseConfig: --shutdown-timeout", () => {
  it("defaults to 10 s, and reads seconds from the flag or POWERSTRIP_SHUTDOWN_TIMEOUT", () => {
    expect(parseConfig([], {}).shutdownTimeoutMs).toBe(10_000);
    expect(parseConfig(["--shutdown-timeout", "2.5"], {}).shutdownTimeoutMs).toBe(2_500);
    expect(parseConfig([], { POWERSTRIP_SHUTDOWN_TIMEOUT: "30" }).shutdownTimeoutMs).toBe(30_000);
    expect(
      parseConfig(["--shutdown-timeout", "1"], { POWERSTRIP_SHUTDOWN_TIMEOUT: "30" }).shutdownTimeoutMs,
    ).toBe(1_000);
  });

  it("takes 0, as dockerd does: cut everything at once", () => {
    expect(parseConfig(["--shutdown-timeout", "0"], {}).shutdownTimeoutMs).toBe(0);
  });

  it.each([["-1"], ["soon"], ["3601"], ["1s"]])("refuses %s with a clear message", (value) => {
    expect(() => parseConfig(["--shutdown-timeout", value], {})).toThrow(
      `invalid shutdown timeout "${value}" (expected seconds, 0 to 3600)`,
    );
  });
});
