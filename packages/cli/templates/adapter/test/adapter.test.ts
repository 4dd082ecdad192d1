import { callPreHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it } from "vitest";
import { adapter, LABEL } from "../src/adapter.js";

// The testing entry calls the hooks exactly as the proxy would (same messages, same validation),
// with no socket and no Docker.
describe("__NAME__", () => {
  it("declares its hook in the handshake", async () => {
    const reply = await handshake(adapter);
    expect(reply.name).toBe("__NAME__");
    expect(reply.hooks).toEqual([
      expect.objectContaining({ method: "POST", path: "/containers/create", stage: "pre" }),
    ]);
  });

  it("adds its label and keeps the client's", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/v1.41/containers/create",
      body: { Image: "debian", Labels: { team: "web" } },
    });
    expect(reply).toEqual({
      action: "rewrite",
      body: { Image: "debian", Labels: { team: "web", [LABEL]: "__NAME__" } },
    });
  });

  it("refuses privileged containers", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/containers/create",
      body: { Image: "debian", HostConfig: { Privileged: true } },
    });
    expect(reply).toMatchObject({ action: "deny", status: 403 });
  });
});
