export { type Address, formatAddress, isLoopbackHost, parseAddress } from "./addresses.js";
export { dockerErrorResponse } from "./docker-error.js";
export { ProxyError, ProxyErrorCode } from "./errors.js";
export { type AdapterEndpoint, HttpAdapterTransport } from "./hooks/http-transport.js";
export {
  type AdapterTransport,
  type FailurePolicy,
  type HookDeclaration,
  type HookedAdapter,
  HookRegistry,
  type HookStage,
} from "./hooks/registry.js";
export { type Listener, type ListenOptions, listen } from "./listeners.js";
export { type ProxyOptions, type RunningProxy, startProxy } from "./proxy.js";
