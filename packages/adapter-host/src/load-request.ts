// Load requests: the options of loadImage and loadUrl, checked against the admin API's LoadRequest.
import { type LoadRequest, validateLoadRequest } from "@powerstrip/protocol";
import { grantsOf } from "./adapter-records.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import type { PullProgress } from "./runtime.js";

/** `powerstrip load --url`: a current adapter, or a 2015 one with `legacy` and its `hooks`. */
export interface LoadUrlOptions {
  /** `unix:///absolute/path.sock` or `http://127.0.0.1:PORT` (a legacy adapter's URL may carry a path). */
  url: string;
  /** Overrides the adapter's declared name; a legacy adapter without one is named after its URL. */
  name?: string;
  /** Overrides the adapter's declared priority. */
  priority?: number;
  /** A 2015 (protocol v1) adapter: no handshake, v1 messages, explicit hooks. */
  legacy?: boolean;
  /** For legacy adapters: `"stage:METHOD /glob"`, e.g. `"pre:POST /*" + "/containers/create"`. */
  hooks?: string[];
  /** Shadow mode: its hooks are called, their replies recorded (trace, metrics) and not applied. */
  shadow?: boolean;
  /** Credential headers reach it if its handshake asks for them (`--allow-credentials`). */
  allowCredentials?: boolean;
}

/** `powerstrip load IMAGE`. */
export interface LoadImageOptions {
  /** Pulled when missing. */
  image: string;
  /** Overrides the adapter's declared name. */
  name?: string;
  /** Extra environment for the container. */
  env?: Record<string, string>;
  /** Overrides the adapter's declared priority. */
  priority?: number;
  /** The container's network mode (default `none`). */
  network?: string;
  /** Shadow mode: its hooks are called, their replies recorded (trace, metrics) and not applied. */
  shadow?: boolean;
  /** Credential headers reach it if its handshake asks for them (`--allow-credentials`). */
  allowCredentials?: boolean;
  /** A loader image gets the engine socket (`--allow-docker`); without it a loader image is refused. */
  allowDocker?: boolean;
}

/** Progress of a load: the engine's pull progress, line by line. */
export type LoadProgress = PullProgress;

/** A LoadRequest as the admin API takes it, checked: the options of an image load or of a URL load. */
export function loadOptions(request: LoadRequest): { image: LoadImageOptions } | { url: LoadUrlOptions } {
  const result = validateLoadRequest(request);
  if (!result.ok) throw invalidRequest(result.errors);
  if (request.image !== undefined) {
    if (request.legacy) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        "invalid load request: legacy: 2015 adapters are loaded by URL, not from images",
      );
    }
    const options: LoadImageOptions = { image: request.image };
    if (request.name !== undefined) options.name = request.name;
    if (request.env !== undefined) options.env = request.env;
    if (request.priority !== undefined) options.priority = request.priority;
    if (request.network !== undefined) options.network = request.network;
    return { image: { ...options, ...grantsOf(request) } };
  }
  if (request.allowDocker) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidRequest,
      "invalid load request: allowDocker: only for image adapters (Powerstrip does not run an adapter loaded by URL)",
    );
  }
  if (request.env !== undefined || request.network !== undefined) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidRequest,
      `invalid load request: ${request.env !== undefined ? "env" : "network"}: only for image adapters (Powerstrip does not run an adapter loaded by URL)`,
    );
  }
  const options: LoadUrlOptions = { url: request.url! };
  if (request.name !== undefined) options.name = request.name;
  if (request.priority !== undefined) options.priority = request.priority;
  if (request.legacy !== undefined) options.legacy = request.legacy;
  if (request.hooks !== undefined) options.hooks = request.hooks;
  return { url: { ...options, ...grantsOf(request) } };
}

/** Refuses image-load options that the admin API would refuse as a LoadRequest. */
export function checkImageOptions(options: LoadImageOptions): void {
  const request: LoadRequest = { image: options.image, ...grantsOf(options) };
  if (options.name !== undefined) request.name = options.name;
  if (options.env !== undefined) request.env = options.env;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.network !== undefined) request.network = options.network;
  const result = validateLoadRequest(request);
  if (!result.ok) throw invalidRequest(result.errors);
}

/** Refuses URL-load options that the admin API would refuse as a LoadRequest, or that a legacy adapter cannot use. */
export function checkUrlOptions(options: LoadUrlOptions): void {
  const result = validateLoadRequest(urlRequest(options));
  if (!result.ok) throw invalidRequest(result.errors);
  if (options.legacy && options.allowCredentials) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidRequest,
      "invalid load request: allowCredentials: not for legacy adapters (the 2015 messages carry no headers, so there is nothing to allow)",
    );
  }
}

function urlRequest(options: LoadUrlOptions): LoadRequest {
  const request: LoadRequest = { url: options.url, ...grantsOf(options) };
  if (options.name !== undefined) request.name = options.name;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.legacy !== undefined) request.legacy = options.legacy;
  if (options.hooks !== undefined) request.hooks = options.hooks;
  return request;
}

function invalidRequest(errors: string[]): AdapterHostError {
  return new AdapterHostError(
    AdapterHostErrorCode.InvalidRequest,
    `invalid load request: ${errors.join("; ")}`,
  );
}
