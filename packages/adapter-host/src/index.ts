export {
  AdapterHost,
  type AdapterHostOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type ImportOptions,
  type LoadUrlOptions,
} from "./adapter-host.js";
export { type AdapterLocation, parseAdapterUrl } from "./adapter-url.js";
export {
  ADMIN_STATUS,
  AdminErrorCode,
  type AdminServerOptions,
  type RunningAdminServer,
  startAdminServer,
} from "./admin-server.js";
export { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
export { handshakeRequest, OFFERED_VERSIONS } from "./handshake.js";
export { type LegacyHook, legacyFileHooks, parseLegacyHook } from "./legacy.js";
