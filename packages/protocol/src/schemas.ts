import adapterInfo from "../schemas/admin/v1/adapter-info.json" with { type: "json" };
import adapterList from "../schemas/admin/v1/adapter-list.json" with { type: "json" };
import adminError from "../schemas/admin/v1/admin-error.json" with { type: "json" };
import loadRequest from "../schemas/admin/v1/load-request.json" with { type: "json" };
import traceEvent from "../schemas/admin/v1/trace-event.json" with { type: "json" };
import legacyAdaptersFile from "../schemas/v1/adapters-file.json" with { type: "json" };
import legacyDefinitions from "../schemas/v1/definitions.json" with { type: "json" };
import legacyPostHookCall from "../schemas/v1/post-hook-call.json" with { type: "json" };
import legacyPostHookReply from "../schemas/v1/post-hook-reply.json" with { type: "json" };
import legacyPreHookCall from "../schemas/v1/pre-hook-call.json" with { type: "json" };
import legacyPreHookReply from "../schemas/v1/pre-hook-reply.json" with { type: "json" };
import definitions from "../schemas/v2/definitions.json" with { type: "json" };
import errorReply from "../schemas/v2/error-reply.json" with { type: "json" };
import handshakeReply from "../schemas/v2/handshake-reply.json" with { type: "json" };
import handshakeRequest from "../schemas/v2/handshake-request.json" with { type: "json" };
import hookCall from "../schemas/v2/hook-call.json" with { type: "json" };
import jsonPatch from "../schemas/v2/json-patch.json" with { type: "json" };
import postHookReply from "../schemas/v2/post-hook-reply.json" with { type: "json" };
import preHookReply from "../schemas/v2/pre-hook-reply.json" with { type: "json" };

/** A JSON Schema document (draft 2020-12). */
export type JsonSchema = Readonly<Record<string, unknown>>;

export type SchemaName =
  | "Definitions"
  | "HandshakeRequest"
  | "HandshakeReply"
  | "HookCall"
  | "PreHookReply"
  | "PostHookReply"
  | "JsonPatch"
  | "ErrorReply"
  | "LegacyDefinitions"
  | "LegacyPreHookCall"
  | "LegacyPreHookReply"
  | "LegacyPostHookCall"
  | "LegacyPostHookReply"
  | "LegacyAdaptersFile"
  | "AdapterInfo"
  | "AdapterList"
  | "LoadRequest"
  | "AdminError"
  | "TraceEvent";

/**
 * Every schema of the protocol, by the name of the type it defines (its `title`). The same files
 * ship as `@powerstrip/protocol/schemas/<v2|v1|admin/v1>/<name>.json` for other languages.
 */
export const schemas: Readonly<Record<SchemaName, JsonSchema>> = {
  Definitions: definitions,
  HandshakeRequest: handshakeRequest,
  HandshakeReply: handshakeReply,
  HookCall: hookCall,
  PreHookReply: preHookReply,
  PostHookReply: postHookReply,
  JsonPatch: jsonPatch,
  ErrorReply: errorReply,
  LegacyDefinitions: legacyDefinitions,
  LegacyPreHookCall: legacyPreHookCall,
  LegacyPreHookReply: legacyPreHookReply,
  LegacyPostHookCall: legacyPostHookCall,
  LegacyPostHookReply: legacyPostHookReply,
  LegacyAdaptersFile: legacyAdaptersFile,
  AdapterInfo: adapterInfo,
  AdapterList: adapterList,
  LoadRequest: loadRequest,
  AdminError: adminError,
  TraceEvent: traceEvent,
};
