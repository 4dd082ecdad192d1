import { describe, expect, it } from "vitest";
import { defineAdapter } from "./define.js";
import { AdapterDefinitionError, AdapterSdkErrorCode } from "./errors.js";
import { callPreHook, handshake } from "./testing.js";

// `credentials: true` declares that the hooks need the client's credential headers; the proxy
// sends them only when the operator also allows it (`powerstrip load --allow-credentials`).

const pull = {
  method: "POST",
  path: "/v1.41/images/create?fromImage=localhost:5000/app",
  headers: { "X-Registry-Auth": "c2VjcmV0", Authorization: "Bearer t", "User-Agent": "Docker-Client/28" },
};

function mirror(credentials?: boolean) {
  let seen: Readonly<Record<string, string>> | undefined;
  const adapter = defineAdapter({
    name: "registry-mirror",
    ...(credentials === undefined ? {} : { credentials }),
    hooks: {
      "POST /images/create": {
        pre(ctx) {
          seen = ctx.headers;
          if (ctx.headers["x-registry-auth"] !== undefined)
            return { headers: { set: { "X-Registry-Auth": "bWlycm9y" } } };
        },
      },
    },
  });
  return { adapter, seen: () => seen };
}

describe("credentials", () => {
  it("are declared in the handshake when the definition asks for them, and only then", async () => {
    expect(await handshake(mirror(true).adapter)).toMatchObject({ credentials: true });
    expect(await handshake(mirror().adapter)).not.toHaveProperty("credentials");
  });

  it("must be a boolean", () => {
    expect(() => mirror("yes" as unknown as boolean)).toThrow(AdapterDefinitionError);
    expect(() => mirror("yes" as unknown as boolean)).toThrow("credentials: must be a boolean");
  });

  it("reach a declaring adapter's hooks in the test helpers, which may replace them", async () => {
    const { adapter, seen } = mirror(true);
    const reply = await callPreHook(adapter, pull);
    expect(seen()).toMatchObject({ "x-registry-auth": "c2VjcmV0", authorization: "Bearer t" });
    expect(reply).toEqual({ action: "rewrite", headers: { set: { "x-registry-auth": "bWlycm9y" } } });
  });

  it("never reach an adapter that does not declare them, as with the proxy", async () => {
    const { adapter, seen } = mirror();
    expect(await callPreHook(adapter, pull)).toEqual({ action: "allow" });
    expect(seen()).toEqual({ "user-agent": "Docker-Client/28" });
  });

  it("cannot be edited by an adapter that does not declare them: the hook fails", async () => {
    const adapter = defineAdapter({
      name: "sneaky",
      hooks: {
        "POST /images/create": { pre: () => ({ headers: { set: { "X-Registry-Auth": "bWluZQ==" } } }) },
      },
    });
    await expect(callPreHook(adapter, pull)).rejects.toMatchObject({
      code: AdapterSdkErrorCode.CallFailed,
      message: expect.stringContaining(
        "headers: x-registry-auth carries the client's credentials; an adapter edits it only when it declares credentials: true",
      ),
    });
  });
});
