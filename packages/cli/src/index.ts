export {
  AdminClient,
  DEFAULT_ADMIN_ADDRESS,
  DEFAULT_ADMIN_TIMEOUT_MS,
  type LogChunk,
  NDJSON,
  type PullProgress,
  parseAdminAddress,
} from "./admin-client.js";
export { DockerPluginError, defaultDockerPluginPath, installDockerPlugin } from "./docker-plugin.js";
export { AdminClientError, AdminClientErrorCode, UsageError } from "./errors.js";
export { ago, formatAdapter, formatAdapterTable, formatTable } from "./format.js";
export { ExitCode, type RunIo, run } from "./run.js";
