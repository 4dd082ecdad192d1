export type { ClientCertificate, ClientIdentity } from "@powerstrip/protocol";
export { defineAdapter } from "./define.js";
export { AdapterDefinitionError, AdapterSdkError, AdapterSdkErrorCode } from "./errors.js";
export { SOCKET_ENV } from "./listen.js";
export type { Logger } from "./logger.js";
export { createRequestListener, type RunningAdapter, type ServeOptions, serve } from "./serve.js";
export type {
  Adapter,
  AdapterDefinition,
  DeclaredHook,
  HookHandlers,
  HookKey,
  HookRequestView,
  HookResponseView,
  HttpMethod,
  JsonBody,
  PathParams,
  PostHookContext,
  PostHookResult,
  PostHookRewriteResult,
  PreHookContext,
  PreHookResult,
  PreHookRewriteResult,
} from "./types.js";
