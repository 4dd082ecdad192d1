import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CREDENTIAL_HEADERS,
  EDITABLE_REQUEST_HEADERS,
  editableRequestHeaderPattern,
  HANDSHAKE_DEFAULTS,
  isEditableRequestHeader,
  PROXY_MANAGED_HEADERS,
} from "./constants.js";
import { schemas } from "./schemas.js";
import { validatePostHookReply, validatePreHookReply } from "./validation/validators.js";

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
  for (const validate of [validatePreHookReply, validatePostHookReply]) {
    expect(validate({ action: "rewrite", headers: { set: { [name]: "x" } } }).ok).toBe(false);
    expect(validate({ action: "rewrite", headers: { remove: [name] } }).ok).toBe(false);
  }
  expect(validatePostHookReply({ action: "rewrite", headers: { set: { [`x-${name}`]: "x" } } }).ok).toBe(
    true,
  );
});

describe("the request header allowlist", () => {
  const definitions = schemas.Definitions.$defs as Record<string, { pattern?: string }>;

  it("is the schema's editableRequestHeaderName pattern", () => {
    expect(definitions.editableRequestHeaderName!.pattern).toBe(editableRequestHeaderPattern());
  });

  it.each([
    ...EDITABLE_REQUEST_HEADERS.names,
    ...EDITABLE_REQUEST_HEADERS.prefixes.map((prefix) => `${prefix}team`),
    ...CREDENTIAL_HEADERS,
  ])("a pre-hook rewrite may name %s (the schema accepts it)", (name) => {
    expect(validatePreHookReply({ action: "rewrite", headers: { set: { [name]: "x" } } }).ok).toBe(true);
    expect(validatePreHookReply({ action: "rewrite", headers: { remove: [name] } }).ok).toBe(true);
    expect(isEditableRequestHeader(name, { credentials: true })).toBe(true);
  });

  it.each([
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "cookie",
    "proxy-authorization",
    "x-docker-expose-session-uuid",
    "accept-encoding",
    "content-encoding",
    "expect",
    "x-meta-",
    "x-powerstrip-client",
  ])("a pre-hook rewrite may not name %s", (name) => {
    const result = validatePreHookReply({ action: "rewrite", headers: { set: { [name]: "x" } } });
    expect(result).toMatchObject({ ok: false });
    expect(result.ok ? "" : result.errors.join("\n")).toContain(`headers.set: key ${JSON.stringify(name)}`);
    expect(isEditableRequestHeader(name, { credentials: true })).toBe(false);
  });

  it.each(CREDENTIAL_HEADERS)("%s is editable only with the credentials grant", (name) => {
    expect(isEditableRequestHeader(name, { credentials: false })).toBe(false);
    expect(isEditableRequestHeader(name, { credentials: true })).toBe(true);
  });

  it("the function and the schema agree on any name", () => {
    const pattern = new RegExp(editableRequestHeaderPattern(), "u");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(...EDITABLE_REQUEST_HEADERS.names, ...CREDENTIAL_HEADERS, "x-meta-", "x-meta"),
          fc.string({ maxLength: 12 }).map((rest) => `x-meta-${rest}`),
          fc.string({ maxLength: 12 }),
        ),
        (name) => {
          expect(isEditableRequestHeader(name, { credentials: true })).toBe(pattern.test(name));
        },
      ),
      { numRuns: 300 },
    );
  });
});
