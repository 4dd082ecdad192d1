import { describe, expect, it } from "vitest";
import { formatAddress, isLoopbackHost, parseAddress } from "./addresses.js";
import { ProxyErrorCode } from "./errors.js";

describe("parseAddress", () => {
  it("reads unix and tcp addresses", () => {
    expect(parseAddress("unix:///run/powerstrip/docker.sock")).toEqual({
      kind: "unix",
      path: "/run/powerstrip/docker.sock",
    });
    expect(parseAddress("tcp://127.0.0.1:2375")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 2375 });
    expect(parseAddress("tcp://[::1]:2375")).toEqual({ kind: "tcp", host: "::1", port: 2375 });
  });

  it.each([
    "unix://relative.sock",
    "tcp://127.0.0.1",
    "tcp://127.0.0.1:99999",
    "http://127.0.0.1:1",
    "/var/run/docker.sock",
  ])("refuses %s with a message naming it", (text) => {
    expect(() => parseAddress(text)).toThrowError(
      expect.objectContaining({
        code: ProxyErrorCode.InvalidAddress,
        message: expect.stringContaining(text),
      }),
    );
  });

  it("formats what it parses", () => {
    for (const text of ["unix:///a/b.sock", "tcp://127.0.0.1:1", "tcp://[::1]:2"]) {
      expect(formatAddress(parseAddress(text))).toBe(text);
    }
  });
});

describe("isLoopbackHost", () => {
  it("knows loopback from the rest", () => {
    expect(["127.0.0.1", "127.8.9.1", "::1", "localhost"].map(isLoopbackHost)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(["0.0.0.0", "10.0.0.1", "::", "example.com", "128.0.0.1"].map(isLoopbackHost)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
