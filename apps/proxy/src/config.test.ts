import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "./config.js";

describe("parseConfig", () => {
  it("has defaults that work for root on a Docker host", () => {
    const config = parseConfig([], {});
    expect(config.listen).toEqual([DEFAULTS.listen]);
    expect(config.docker).toBe("unix:///var/run/docker.sock");
    expect(config.socketMode).toBe(0o660);
    expect(config.maxBodyBytes).toBe(16 * 1024 * 1024);
  });

  it("never reads the upstream from DOCKER_HOST, which users point at the proxy", () => {
    expect(parseConfig([], { DOCKER_HOST: "unix:///run/powerstrip/docker.sock" }).docker).toBe(
      "unix:///var/run/docker.sock",
    );
  });

  it("takes repeated --listen flags, and POWERSTRIP_LISTEN as a space-separated list", () => {
    expect(
      parseConfig(["--listen", "unix:///a.sock", "--listen", "tcp://127.0.0.1:2375"], {}).listen,
    ).toEqual(["unix:///a.sock", "tcp://127.0.0.1:2375"]);
    expect(parseConfig([], { POWERSTRIP_LISTEN: "unix:///a.sock tcp://127.0.0.1:1" }).listen).toEqual([
      "unix:///a.sock",
      "tcp://127.0.0.1:1",
    ]);
  });

  it("lets flags win over the environment", () => {
    const config = parseConfig(["--docker", "unix:///flag.sock"], { POWERSTRIP_DOCKER: "unix:///env.sock" });
    expect(config.docker).toBe("unix:///flag.sock");
  });

  it("reads sizes and modes", () => {
    expect(parseConfig(["--max-body-bytes", "1MiB"], {}).maxBodyBytes).toBe(1024 * 1024);
    expect(parseConfig([], { POWERSTRIP_MAX_BODY_BYTES: "65536" }).maxBodyBytes).toBe(65536);
    expect(parseConfig(["--socket-mode", "600"], {}).socketMode).toBe(0o600);
    expect(parseConfig([], { POWERSTRIP_ADAPTERS: "a/b  c/d" }).adapters).toEqual([
      { image: "a/b" },
      { image: "c/d" },
    ]);
  });

  it("reads the grants written after a boot-list image", () => {
    expect(
      parseConfig(["--adapters", "acme/set --allow-docker acme/mirror --allow-credentials"], {}).adapters,
    ).toEqual([
      { image: "acme/set", allowDocker: true },
      { image: "acme/mirror", allowCredentials: true },
    ]);
    expect(() => parseConfig([], { POWERSTRIP_ADAPTERS: "acme/set --privileged" })).toThrow(
      'the boot list (--adapters) has "--privileged"',
    );
  });

  it.each([
    [["--max-body-bytes", "lots"], /invalid size "lots"/],
    [["--socket-mode", "999"], /invalid socket mode "999"/],
    [["--bogus"], /unknown option '--bogus'/],
  ])("refuses %j with a clear message", (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(message);
  });
});
