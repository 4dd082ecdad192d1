import { callPreHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it } from "vitest";
import { NETWORK_LABEL, socketplaneAdapter } from "./adapter.js";

describe("socketplane agent", () => {
  it("declares one pre-hook on container create", async () => {
    expect(await handshake(socketplaneAdapter("blue"))).toMatchObject({
      name: "socketplane",
      hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
    });
  });

  it("labels each new container with its network, keeping the labels it has", async () => {
    const reply = await callPreHook(socketplaneAdapter("blue"), {
      method: "POST",
      path: "/v1.41/containers/create",
      body: { Image: "x", Labels: { owner: "alice" } },
    });
    expect(reply).toMatchObject({ action: "rewrite" });
    expect(JSON.stringify(reply)).toContain(`"${NETWORK_LABEL}":"blue"`);
    expect(JSON.stringify(reply)).toContain('"owner":"alice"');
  });
});
