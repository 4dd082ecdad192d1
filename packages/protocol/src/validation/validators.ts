import { ProtocolError, ProtocolErrorCode } from "../errors.js";
import type {
  AdapterInfo,
  AdapterList,
  AdminError,
  ErrorReply,
  HandshakeReply,
  HandshakeRequest,
  HookCall,
  JsonPatch,
  LegacyAdaptersFile,
  LegacyPostHookCall,
  LegacyPostHookReply,
  LegacyPreHookCall,
  LegacyPreHookReply,
  LoadRequest,
  PostHookReply,
  PreHookReply,
  TraceEvent,
} from "../generated/types.js";
import type { SchemaName } from "../schemas.js";
import { compile } from "./ajv.js";
import { handshakeReplyRules, legacyAdaptersFileRules } from "./rules.js";

/** Either the value, now known to fit its schema, or one line per problem naming the field. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export type Validator<T> = (value: unknown) => ValidationResult<T>;

function validator<T>(name: SchemaName, rules?: (value: T) => string[]): Validator<T> {
  const check = compile(name); // compiled here, at module load, once
  return (value) => {
    const errors = check(value);
    if (errors.length === 0 && rules) errors.push(...rules(value as T));
    return errors.length === 0 ? { ok: true, value: value as T } : { ok: false, errors };
  };
}

export const validateHandshakeRequest = validator<HandshakeRequest>("HandshakeRequest");
export const validateHandshakeReply = validator<HandshakeReply>("HandshakeReply", handshakeReplyRules);
export const validateHookCall = validator<HookCall>("HookCall");
export const validatePreHookReply = validator<PreHookReply>("PreHookReply");
export const validatePostHookReply = validator<PostHookReply>("PostHookReply");
export const validateJsonPatch = validator<JsonPatch>("JsonPatch");
export const validateErrorReply = validator<ErrorReply>("ErrorReply");
export const validateLegacyPreHookCall = validator<LegacyPreHookCall>("LegacyPreHookCall");
export const validateLegacyPreHookReply = validator<LegacyPreHookReply>("LegacyPreHookReply");
export const validateLegacyPostHookCall = validator<LegacyPostHookCall>("LegacyPostHookCall");
export const validateLegacyPostHookReply = validator<LegacyPostHookReply>("LegacyPostHookReply");
export const validateLegacyAdaptersFile = validator<LegacyAdaptersFile>(
  "LegacyAdaptersFile",
  legacyAdaptersFileRules,
);
export const validateAdapterInfo = validator<AdapterInfo>("AdapterInfo");
export const validateAdapterList = validator<AdapterList>("AdapterList");
export const validateLoadRequest = validator<LoadRequest>("LoadRequest");
export const validateAdminError = validator<AdminError>("AdminError");
export const validateTraceEvent = validator<TraceEvent>("TraceEvent");

/** Returns the value, or throws ProtocolError INVALID_MESSAGE listing the problems, e.g. `hook reply: ...`. */
export function assertValid<T>(result: ValidationResult<T>, what: string): T {
  if (result.ok) return result.value;
  throw new ProtocolError(ProtocolErrorCode.InvalidMessage, `${what}: ${result.errors.join("; ")}`, {
    errors: result.errors,
  });
}
