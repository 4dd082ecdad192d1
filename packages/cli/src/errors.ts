import type { AdminError } from "@powerstrip/protocol";

/** Stable codes for every failure of the admin client. Callers match on `code`, never on text. */
export const AdminClientErrorCode = {
  /** `--admin` is not `unix:///path.sock` or `tcp://host:port`. */
  InvalidAddress: "INVALID_ADDRESS",
  /** Nothing answers at the admin address (no socket, connection refused). */
  Unreachable: "UNREACHABLE",
  /** The socket exists but this user may not open it. */
  PermissionDenied: "PERMISSION_DENIED",
  /** The admin API did not answer in time. */
  Timeout: "TIMEOUT",
  /** The admin API answered with an AdminError; `adminError` holds its code. */
  Refused: "REFUSED",
  /** The answer does not fit the admin API's schemas. */
  BadResponse: "BAD_RESPONSE",
} as const;
export type AdminClientErrorCode = (typeof AdminClientErrorCode)[keyof typeof AdminClientErrorCode];

export class AdminClientError extends Error {
  override readonly name = "AdminClientError";
  readonly code: AdminClientErrorCode;
  /** The HTTP status, when the admin API answered. */
  readonly status: number | undefined;
  /** The admin API's own error (`code` e.g. NOT_FOUND, NAME_TAKEN), when it refused. */
  readonly adminError: AdminError | undefined;

  constructor(
    code: AdminClientErrorCode,
    message: string,
    options: { cause?: unknown; status?: number; adminError?: AdminError } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.adminError = options.adminError;
  }
}

/** A command line that does not make sense: exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "USAGE";
}
