import { describe, expect, it } from "vitest";
import { parseAdminAddress } from "./admin-client.js";
import { AdminClientError } from "./errors.js";
import { ago, formatTable } from "./format.js";

describe("ago", () => {
  const at = (seconds: number) =>
    ago("2025-06-01T09:30:00.000Z", new Date(Date.parse("2025-06-01T09:30:00Z") + seconds * 1000));
  it.each([
    [0, "just now"],
    [1, "1 second ago"],
    [59, "59 seconds ago"],
    [60, "about a minute ago"],
    [119, "about a minute ago"],
    [120, "2 minutes ago"],
    [3599, "59 minutes ago"],
    [7199, "119 minutes ago"],
    [7200, "2 hours ago"],
    [86400 * 2 - 1, "47 hours ago"],
    [86400 * 9, "9 days ago"],
    [-30, "just now"],
  ])("%i s → %s", (seconds, text) => {
    expect(at(seconds)).toBe(text);
  });

  it("leaves a timestamp it cannot read as it is", () => {
    expect(ago("yesterday", new Date())).toBe("yesterday");
  });
});

describe("formatTable", () => {
  it("pads every column but the last to its widest cell, three spaces apart", () => {
    expect(
      formatTable(
        ["A", "BB", "C"],
        [
          ["long-name", "x", "last"],
          ["y", "z", ""],
        ],
      ),
    ).toBe("A           BB   C\nlong-name   x    last\ny           z\n");
  });
});

describe("parseAdminAddress", () => {
  it("takes unix sockets and tcp host:port", () => {
    expect(parseAdminAddress("unix:///run/powerstrip/admin.sock")).toEqual({
      socketPath: "/run/powerstrip/admin.sock",
    });
    expect(parseAdminAddress("tcp://127.0.0.1:2376")).toEqual({ host: "127.0.0.1", port: 2376 });
    expect(parseAdminAddress("tcp://[::1]:2376")).toEqual({ host: "::1", port: 2376 });
  });

  it.each(["unix://relative.sock", "http://127.0.0.1:1", "tcp://host", "tcp://h:99999", "/run/admin.sock"])(
    "refuses %s",
    (address) => {
      expect(() => parseAdminAddress(address)).toThrow(AdminClientError);
      expect(() => parseAdminAddress(address)).toThrow(
        /expected unix:\/\/\/path\.sock or tcp:\/\/127\.0\.0\.1:PORT/,
      );
    },
  );
});
