import { ProxyErrorCode } from "@powerstrip/proxy-core";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

const TCP = ["--listen", "tcp://0.0.0.0:2376"];
const FILES = ["--tlscert", "/etc/p/cert.pem", "--tlskey", "/etc/p/key.pem"];

describe("parseConfig: --tls, --tlsverify and the PEM files (as dockerd takes them)", () => {
  it("is off by default", () => {
    expect(parseConfig([], {}).tls).toBeUndefined();
  });

  it("--tlsverify --tlscacert: TLS with client certificates from that CA", () => {
    expect(parseConfig([...TCP, "--tlsverify", "--tlscacert", "/etc/p/ca.pem", ...FILES], {}).tls).toEqual({
      ca: "/etc/p/ca.pem",
      cert: "/etc/p/cert.pem",
      key: "/etc/p/key.pem",
    });
  });

  it("--tls: TLS without client verification", () => {
    expect(parseConfig([...TCP, "--tls", ...FILES], {}).tls).toEqual({
      cert: "/etc/p/cert.pem",
      key: "/etc/p/key.pem",
    });
  });

  it("reads every flag from POWERSTRIP_<NAME> too", () => {
    const config = parseConfig([], {
      POWERSTRIP_LISTEN: "tcp://0.0.0.0:2376",
      POWERSTRIP_TLSVERIFY: "1",
      POWERSTRIP_TLSCACERT: "/ca.pem",
      POWERSTRIP_TLSCERT: "/cert.pem",
      POWERSTRIP_TLSKEY: "/key.pem",
    });
    expect(config.tls).toEqual({ ca: "/ca.pem", cert: "/cert.pem", key: "/key.pem" });
    expect(
      parseConfig([], {
        POWERSTRIP_LISTEN: "tcp://127.0.0.1:1",
        POWERSTRIP_TLS: "1",
        POWERSTRIP_TLSCERT: "/c",
        POWERSTRIP_TLSKEY: "/k",
      }).tls,
    ).toEqual({ cert: "/c", key: "/k" });
  });

  it.each([
    [
      ["--tlsverify", ...FILES, ...TCP],
      "--tlsverify needs --tlscacert, the CA that issues the client certificates",
    ],
    [["--tlsverify", "--tlscacert", "/ca.pem", ...TCP], "--tlsverify needs --tlscert and --tlskey"],
    [["--tls", "--tlscert", "/c.pem", ...TCP], "--tls needs --tlscert and --tlskey"],
    [["--tls", "--tlscacert", "/ca.pem", ...FILES, ...TCP], "--tlscacert given without --tlsverify"],
    [["--tlscert", "/c.pem", ...TCP], "--tlscert given without --tlsverify (or --tls): TLS is off"],
    [
      ["--tlsverify", "--tlscacert", "/ca.pem", ...FILES, "--listen", "unix:///run/p.sock"],
      "--tlsverify applies to tcp:// listeners, and no --listen tcp://HOST:PORT is given",
    ],
  ])("refuses %j with one clear line (INVALID_TLS)", (argv, message) => {
    let thrown: unknown;
    try {
      parseConfig(argv, {});
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ProxyErrorCode.InvalidTls });
    expect((thrown as Error).message).toContain(message);
    expect((thrown as Error).message).not.toContain("\n");
  });
});

describe("parseConfig: boolean environment variables", () => {
  const TLS_ENV = {
    POWERSTRIP_LISTEN: "tcp://127.0.0.1:2376",
    POWERSTRIP_TLSCERT: "/etc/p/cert.pem",
    POWERSTRIP_TLSKEY: "/etc/p/key.pem",
  };

  it.each(["true", "1", "yes", "YES", " True "])("POWERSTRIP_TLS=%j turns TLS on", (value) => {
    expect(parseConfig([], { ...TLS_ENV, POWERSTRIP_TLS: value }).tls).toEqual({
      cert: "/etc/p/cert.pem",
      key: "/etc/p/key.pem",
    });
  });

  it.each(["false", "0", "no", "", "No"])("POWERSTRIP_TLS=%j leaves it off", (value) => {
    expect(
      parseConfig([], { POWERSTRIP_LISTEN: "tcp://127.0.0.1:2376", POWERSTRIP_TLS: value }).tls,
    ).toBeUndefined();
    expect(parseConfig([], { POWERSTRIP_TLSVERIFY: value }).tls).toBeUndefined();
  });

  it("refuses anything else in one line", () => {
    expect(() => parseConfig([], { POWERSTRIP_TLSVERIFY: "maybe" })).toThrow(
      'invalid POWERSTRIP_TLSVERIFY="maybe" (expected true, 1 or yes; false, 0, no or empty)',
    );
  });

  it("the flag wins over the variable", () => {
    expect(parseConfig([...TCP, "--tls", ...FILES], { POWERSTRIP_TLS: "false" }).tls).toBeDefined();
  });
});
