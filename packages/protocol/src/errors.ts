/** Stable codes for every failure the protocol package reports. Callers match on `code`, never on text. */
export const ProtocolErrorCode = {
  InvalidMessage: "INVALID_MESSAGE",
  InvalidPattern: "INVALID_PATTERN",
  InvalidSchema: "INVALID_SCHEMA",
  PatchFailed: "PATCH_FAILED",
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;
  /** For INVALID_MESSAGE: one line per problem, each naming the field (`hooks[0].stage: ...`). */
  readonly errors: readonly string[];

  constructor(
    code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown; errors?: readonly string[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options?.errors ?? [];
  }
}
