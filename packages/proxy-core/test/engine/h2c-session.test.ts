import { randomUUID } from "node:crypto";
import { startProxy } from "@powerstrip/proxy-core";
import { type DockerTarget, openTarget, RawConnection } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
beforeAll(async () => {
  target = await openTarget(startProxy);
});
afterAll(async () => {
  await target?.close();
});

/** What an HTTP/2 client sends first on a connection (RFC 9113 §3.4). */
const H2_CLIENT_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

describe("h2c upgrade of /session (BuildKit's session channel)", () => {
  it("relays the 101 and then the engine's HTTP/2 preface, raw", async () => {
    const c = await RawConnection.open(target.socketPath);
    try {
      c.send({
        method: "POST",
        path: "/v1.41/session",
        headers: {
          Connection: "Upgrade",
          Upgrade: "h2c",
          "X-Docker-Expose-Session-Uuid": randomUUID(),
          "X-Docker-Expose-Session-Name": "powerstrip-test",
          "X-Docker-Expose-Session-Sharedkey": "powerstrip-test",
        },
      });
      const switched = await c.readResponse("POST");
      expect(switched.status).toBe(101);
      expect(switched.headers.upgrade).toBe("h2c");
      // The engine is the HTTP/2 client on a session: its preface must come through untouched.
      const preface = await c.readBytes(H2_CLIENT_PREFACE.length);
      expect(preface.toString("latin1")).toBe(H2_CLIENT_PREFACE);
    } finally {
      c.destroy();
    }
  });
});
