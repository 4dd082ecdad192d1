/** Stable codes for every failure of the control path. Callers match on `code`, never on text. */
export const AdapterHostErrorCode = {
  /** No adapter by that name. */
  NotFound: "NOT_FOUND",
  /** The name is already loaded, or being loaded. */
  NameTaken: "NAME_TAKEN",
  /** The adapter is loading or unloading; try again when it is done. */
  Busy: "BUSY",
  /** A URL that is not `unix:///abs.sock` or a loopback `http://` address. */
  InvalidUrl: "INVALID_URL",
  /** A legacy hook string or a 2015 endpoint that cannot be hooked. */
  InvalidHook: "INVALID_HOOK",
  /** A request that does not fit its schema (load request, adapters.yml, import mappings). */
  InvalidRequest: "INVALID_REQUEST",
  /** The adapter did not answer the handshake, or answered it wrongly. */
  HandshakeFailed: "HANDSHAKE_FAILED",
  /** A legacy adapter (which has no handshake) that nothing answers at. */
  Unreachable: "ADAPTER_UNREACHABLE",
  /** The image is not here and could not be pulled. */
  PullFailed: "IMAGE_PULL_FAILED",
  /** An adapter container exited at start, or never listened on its socket. */
  StartFailed: "ADAPTER_START_FAILED",
  /** The Docker engine refused a request, or could not be reached. */
  DockerFailed: "DOCKER_FAILED",
  /** The adapter has no container (it was loaded by URL): no logs. */
  NoContainer: "NO_CONTAINER",
  /** The persisted adapter set could not be written; nothing changed. */
  StateWriteFailed: "STATE_WRITE_FAILED",
  /** The persisted adapter set cannot be read (not JSON, against its shape). */
  StateInvalid: "STATE_INVALID",
  /** Something this host was not set up for (image adapters without a container runtime). */
  NotImplemented: "NOT_IMPLEMENTED",
  /** The host is closing and loads nothing more. */
  Closed: "CLOSED",
  /** The image needs a privilege the operator did not grant (a loader image without --allow-docker). */
  NotAllowed: "NOT_ALLOWED",
} as const;
export type AdapterHostErrorCode = (typeof AdapterHostErrorCode)[keyof typeof AdapterHostErrorCode];

export class AdapterHostError extends Error {
  override readonly name = "AdapterHostError";
  readonly code: AdapterHostErrorCode;

  constructor(code: AdapterHostErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
