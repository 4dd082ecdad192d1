export {
  AdapterHost,
  type AdapterHostOptions,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_SOCKET_TIMEOUT_MS,
  type HostLogLevel,
} from "./adapter-host.js";
export { type AdapterLocation, parseAdapterUrl } from "./adapter-url.js";
export {
  ADMIN_STATUS,
  AdminErrorCode,
  type AdminServerOptions,
  type LoadStreamLine,
  type LogStreamLine,
  NDJSON,
  type RunningAdminServer,
  startAdminServer,
} from "./admin-server.js";
export { type BootEntry, parseBootList } from "./boot-list.js";
export { DockerRuntime, type DockerRuntimeOptions } from "./docker-runtime.js";
export { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
export { handshakeRequest, OFFERED_VERSIONS } from "./handshake.js";
export { type LegacyHook, legacyFileHooks, parseLegacyHook } from "./legacy.js";
export type { ImportOptions } from "./legacy-adapters.js";
export type { LoadImageOptions, LoadProgress, LoadUrlOptions } from "./load-request.js";
export { ProxyMetrics } from "./observe/metrics.js";
export {
  checkMetricsAddress,
  type RunningMetricsServer,
  startMetricsServer,
} from "./observe/metrics-server.js";
export {
  parseTraceFilter,
  TRACE_MAX_BUFFERED_BYTES,
  type TraceFilter,
  TraceHub,
  traceEvent,
} from "./observe/trace.js";
export {
  ADAPTER_LABEL,
  type AdapterRuntime,
  CONTAINER_SOCKET_DIR,
  type ContainerSpec,
  type ContainerState,
  type EventSubscription,
  IMAGE_LABEL,
  LOADER_DOCKER_SOCKET,
  LOADER_LABEL,
  type LogChunk,
  type LogOptions,
  NAME_ENV,
  type PullProgress,
  provisionalName,
  type RuntimeEvent,
  SOCKET_ENV,
  SOCKET_FILE,
} from "./runtime.js";
export {
  type AdapterRecord,
  bootPlan,
  type DesiredSet,
  STATE_FILE,
  type StateFs,
  StateStore,
} from "./state-store.js";
