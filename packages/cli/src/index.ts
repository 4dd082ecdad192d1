export {
  AdminClient,
  DEFAULT_ADMIN_ADDRESS,
  DEFAULT_ADMIN_TIMEOUT_MS,
  parseAdminAddress,
} from "./admin-client.js";
export { AdminClientError, AdminClientErrorCode, UsageError } from "./errors.js";
export { ago, formatAdapter, formatAdapterTable, formatTable } from "./format.js";
export { ExitCode, type RunIo, run } from "./run.js";
