export { type Address, formatAddress, isLoopbackHost, parseAddress } from "./addresses.js";
export type { ClientIdentity } from "./client-identity.js";
export type { DrainResult } from "./connection-set.js";
export { dockerErrorResponse } from "./docker-error.js";
export { ProxyError, ProxyErrorCode } from "./errors.js";
export {
  type AdapterEndpoint,
  HttpAdapterTransport,
  type HttpAdapterTransportOptions,
  MAX_REPLY_BYTES,
} from "./hooks/http-transport.js";
export {
  type AdapterTransport,
  type FailurePolicy,
  type HookDeclaration,
  type HookedAdapter,
  HookRegistry,
  type HookStage,
} from "./hooks/registry.js";
export { type Listener, type ListenOptions, listen } from "./listeners.js";
export {
  type ExchangeRecord,
  type HookCallRecord,
  type HookDecision,
  Observers,
  type ProxyObserver,
} from "./observe/observer.js";
export { type ProxyOptions, type RunningProxy, startProxy } from "./proxy.js";
export { loadTlsFiles, type TlsFiles, type TlsListenOptions } from "./tls.js";
