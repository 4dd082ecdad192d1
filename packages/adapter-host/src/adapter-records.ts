// The persisted record of an adapter (AdapterRecord): built from a load, and read back to load it again.
import type { LoadRequest } from "@powerstrip/protocol";
import type { Entry } from "./adapter-entry.js";
import type { LoadImageOptions, LoadUrlOptions } from "./load-request.js";
import type { AdapterRecord } from "./state-store.js";

/** What the operator chose for an adapter beyond what it declares: shadow mode and the two grants. */
export type Grants = Pick<LoadRequest, "shadow" | "allowCredentials" | "allowDocker">;

/** The grants `from` holds, each written only when true (records and requests never say `false`). */
export function grantsOf(from: Grants): Grants {
  const grants: Grants = {};
  if (from.shadow) grants.shadow = true;
  if (from.allowCredentials) grants.allowCredentials = true;
  if (from.allowDocker) grants.allowDocker = true;
  return grants;
}

export function imageRecord(name: string, options: LoadImageOptions): AdapterRecord {
  const record: AdapterRecord = { name, source: "image", image: options.image, ...grantsOf(options) };
  if (options.env !== undefined) record.env = options.env;
  if (options.priority !== undefined) record.priority = options.priority;
  if (options.network !== undefined) record.network = options.network;
  return record;
}

export function urlRecord(name: string, options: LoadUrlOptions): AdapterRecord {
  const record: AdapterRecord = { name, source: "url", url: options.url, ...grantsOf(options) };
  if (options.priority !== undefined) record.priority = options.priority;
  if (options.legacy) {
    record.legacy = true;
    record.hooks = options.hooks ?? [];
  }
  return record;
}

/** An image record as loadImage options, without its name: the adapter declares it again. */
export function withoutName(record: AdapterRecord): LoadImageOptions {
  const options: LoadImageOptions = { image: record.image!, ...grantsOf(record) };
  if (record.env !== undefined) options.env = record.env;
  if (record.priority !== undefined) options.priority = record.priority;
  if (record.network !== undefined) options.network = record.network;
  return options;
}

export function sourceOf(record: AdapterRecord): string {
  return record.source === "image" ? record.image! : record.url!;
}

export function kindOf(record: AdapterRecord): Entry["kind"] {
  return record.source === "image" ? "image" : record.legacy ? "legacy" : "url";
}
