import { describe, expect, expectTypeOf, it } from "vitest";
import { defineAdapter } from "./define.js";
import type { ClientIdentity } from "./index.js";
import { callPostHook, callPreHook } from "./testing.js";

/** ctx.client: who made the call, as the proxy's hook call says (`client`). */
function recorder() {
  const seen: (ClientIdentity | undefined)[] = [];
  const adapter = defineAdapter({
    name: "who",
    hooks: {
      "POST /containers/create": {
        pre(ctx) {
          expectTypeOf(ctx.client).toEqualTypeOf<ClientIdentity | undefined>();
          seen.push(ctx.client);
        },
        post(ctx) {
          seen.push(ctx.client);
        },
      },
    },
  });
  return { adapter, seen };
}

const tls: ClientIdentity = {
  transport: "tls",
  address: "127.0.0.1:53122",
  certificate: {
    commonName: "alice",
    subject: "CN=alice,O=dev",
    issuer: "CN=ca",
    fingerprint256: Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase()).join(
      ":",
    ),
  },
};
const request = { method: "POST", path: "/containers/create", body: { Image: "debian" } };

describe("ctx.client", () => {
  it("is what the call says, in pre- and post-hooks", async () => {
    const { adapter, seen } = recorder();
    await callPreHook(adapter, { ...request, client: tls });
    await callPostHook(adapter, {
      request,
      response: { body: { Id: "x" } },
      client: { transport: "unix", uid: 1000, gid: 1000 },
    });
    expect(seen).toEqual([tls, { transport: "unix", uid: 1000, gid: 1000 }]);
  });

  it("is undefined when the proxy does not say", async () => {
    const { adapter, seen } = recorder();
    await callPreHook(adapter, request);
    expect(seen).toEqual([undefined]);
  });

  it("is validated with the rest of the call: a malformed one never reaches the hook", async () => {
    const { adapter, seen } = recorder();
    const forged = {
      transport: "tls",
      certificate: { subject: "CN=x", fingerprint256: "not-hex" },
    } as ClientIdentity;
    await expect(callPreHook(adapter, { ...request, client: forged })).rejects.toMatchObject({
      code: "CALL_FAILED",
      message: expect.stringContaining("fingerprint256"),
    });
    expect(seen).toEqual([]);
  });
});
