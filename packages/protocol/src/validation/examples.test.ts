import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  embeddedExamples,
  embedExamples,
  listExamples,
  readExample,
  readmeFile,
} from "../../scripts/embed-examples.js";
import * as validators from "./validators.js";

// examples/<dir>/<name>.json is an example of the message whose schema lives at schemas/<dir>.json.
const validatorFor: Record<string, validators.Validator<unknown>> = {
  "v2/handshake-request": validators.validateHandshakeRequest,
  "v2/handshake-reply": validators.validateHandshakeReply,
  "v2/hook-call": validators.validateHookCall,
  "v2/pre-hook-reply": validators.validatePreHookReply,
  "v2/post-hook-reply": validators.validatePostHookReply,
  "v2/json-patch": validators.validateJsonPatch,
  "v2/error-reply": validators.validateErrorReply,
  "v1/pre-hook-call": validators.validateLegacyPreHookCall,
  "v1/pre-hook-reply": validators.validateLegacyPreHookReply,
  "v1/post-hook-call": validators.validateLegacyPostHookCall,
  "v1/post-hook-reply": validators.validateLegacyPostHookReply,
  "v1/adapters-file": validators.validateLegacyAdaptersFile,
  "admin/v1/adapter-info": validators.validateAdapterInfo,
  "admin/v1/adapter-list": validators.validateAdapterList,
  "admin/v1/load-request": validators.validateLoadRequest,
  "admin/v1/admin-error": validators.validateAdminError,
  "admin/v1/trace-event": validators.validateTraceEvent,
};

const examples = listExamples();

describe("examples", () => {
  it.each(examples)("%s fits its schema", (file) => {
    const validate = validatorFor[file.slice(0, file.lastIndexOf("/"))];
    expect(validate, `no validator for ${file}`).toBeDefined();
    expect(validate!(JSON.parse(readExample(file)))).toMatchObject({ ok: true });
  });

  it("cover every message and resource", () => {
    const covered = new Set(examples.map((file) => file.slice(0, file.lastIndexOf("/"))));
    expect([...covered].sort()).toEqual(Object.keys(validatorFor).sort());
  });
});

describe("the README", () => {
  const readme = readFileSync(readmeFile, "utf8");

  it("embeds every example file", () => {
    expect(embeddedExamples(readme).sort()).toEqual(examples);
  });

  it("embeds them verbatim (run `npm run generate -w @powerstrip/protocol` after editing one)", () => {
    expect(embedExamples(readme)).toBe(readme);
  });
});
