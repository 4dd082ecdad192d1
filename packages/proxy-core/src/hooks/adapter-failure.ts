/** The ways an adapter call fails; each is handled by the adapter's failure policy. */
export const AdapterFailureKind = {
  Timeout: "timeout",
  Unreachable: "unreachable",
  BadStatus: "bad-status",
  NotJson: "not-json",
  InvalidReply: "invalid-reply",
  TooLarge: "too-large",
  /** Not called at all: a shadow adapter already had too many calls in flight. */
  Overloaded: "overloaded",
} as const;
export type AdapterFailureKind = (typeof AdapterFailureKind)[keyof typeof AdapterFailureKind];

export class AdapterFailure extends Error {
  override readonly name = "AdapterFailure";
  readonly code = "ADAPTER_FAILED";

  constructor(
    readonly kind: AdapterFailureKind,
    message: string,
    options?: { cause?: unknown; status?: number; said?: string },
  ) {
    super(message, options);
    this.status = options?.status;
    this.said = options?.said;
  }

  /** The HTTP status the adapter answered with, for a BadStatus failure. */
  readonly status: number | undefined;
  /** What the adapter said with it (its `message`, or its text). */
  readonly said: string | undefined;
}

/** The status a client gets when a failing adapter's policy is to fail closed. */
export function failureStatus(kind: AdapterFailureKind): number {
  return kind === AdapterFailureKind.Timeout ? 504 : 502;
}
