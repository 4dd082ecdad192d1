export { type Address, formatAddress, isLoopbackHost, parseAddress } from "./addresses.js";
export { dockerErrorResponse } from "./docker-error.js";
export { ProxyError, ProxyErrorCode } from "./errors.js";
export { type ProxyOptions, type RunningProxy, startProxy } from "./proxy.js";
