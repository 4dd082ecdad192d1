import { expect, it } from "vitest";
import { HANDSHAKE_DEFAULTS, PROXY_MANAGED_HEADERS } from "./constants.js";
import { schemas } from "./schemas.js";
import { validatePreHookReply } from "./validation/validators.js";

it("the handshake defaults are the schema's", () => {
  const properties = schemas.HandshakeReply.properties as Record<string, { default?: unknown }>;
  const hook = (
    schemas.HandshakeReply.$defs as Record<string, { properties: Record<string, { default?: unknown }> }>
  ).hookDeclaration!.properties;
  expect(HANDSHAKE_DEFAULTS).toEqual({
    priority: properties.priority!.default,
    failurePolicy: properties.failurePolicy!.default,
    timeoutMs: properties.timeoutMs!.default,
    needsBody: hook.needsBody!.default,
  });
});

it.each(PROXY_MANAGED_HEADERS)("a rewrite can neither set nor remove %s", (name) => {
  expect(validatePreHookReply({ action: "rewrite", headers: { set: { [name]: "x" } } }).ok).toBe(false);
  expect(validatePreHookReply({ action: "rewrite", headers: { remove: [name] } }).ok).toBe(false);
  expect(validatePreHookReply({ action: "rewrite", headers: { set: { [`x-${name}`]: "x" } } }).ok).toBe(true);
});
