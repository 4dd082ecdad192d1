/** Stable codes for every failure the SDK reports. Callers match on `code`, never on text. */
export const AdapterSdkErrorCode = {
  InvalidDefinition: "INVALID_DEFINITION",
  NoAddress: "NO_ADDRESS",
  AddressInUse: "ADDRESS_IN_USE",
  NoMatchingHook: "NO_MATCHING_HOOK",
  InvalidTestCall: "INVALID_TEST_CALL",
  CallFailed: "CALL_FAILED",
} as const;
export type AdapterSdkErrorCode = (typeof AdapterSdkErrorCode)[keyof typeof AdapterSdkErrorCode];

export class AdapterSdkError extends Error {
  override readonly name: string = "AdapterSdkError";
  readonly code: AdapterSdkErrorCode;
  /** For CALL_FAILED: the HTTP status the adapter answered (400 refused, 500 failed). */
  readonly status: number | undefined;

  constructor(code: AdapterSdkErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status;
  }
}

/** `defineAdapter` refused the definition; `problems` has one line per problem, each naming the field. */
export class AdapterDefinitionError extends AdapterSdkError {
  override readonly name = "AdapterDefinitionError";
  readonly problems: readonly string[];

  constructor(adapterName: string, problems: readonly string[]) {
    super(AdapterSdkErrorCode.InvalidDefinition, `adapter ${adapterName}: ${problems.join("; ")}`);
    this.problems = problems;
  }
}
