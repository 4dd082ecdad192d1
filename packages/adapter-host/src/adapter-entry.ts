// What the host knows of one adapter (Entry), and how it reports it (AdapterInfo).
import type { AdapterHook, AdapterInfo } from "@powerstrip/protocol";
import type { FailurePolicy, HookedAdapter } from "@powerstrip/proxy-core";
import type { AdapterRecord } from "./state-store.js";

export type State = AdapterInfo["state"];

/** One adapter the host knows: reserved while it loads, live once its hooks are registered. */
export interface Entry {
  name: string;
  source: string;
  kind: "url" | "legacy" | "image";
  state: State;
  since: Date;
  priority: number;
  failurePolicy: FailurePolicy;
  timeoutMs: number;
  protocolVersion: "1" | "2";
  hooks: AdapterHook[];
  adapter?: HookedAdapter;
  unloading?: Promise<void>;
  /** How to load it again (reload, restart). */
  record?: AdapterRecord;
  /** The record is in the persisted set. */
  persisted?: boolean;
  container?: { id: string; name: string };
  error?: string;
  /** Known once its handshake is done (see AdapterInfo.credentials). */
  credentials?: AdapterInfo["credentials"];
}

export function info(entry: Entry): AdapterInfo {
  const result: AdapterInfo = {
    name: entry.name,
    source: entry.source,
    kind: entry.kind,
    state: entry.state,
    hooks: entry.hooks.map((h) => ({ ...h })),
    priority: entry.priority,
    failurePolicy: entry.failurePolicy,
    timeoutMs: entry.timeoutMs,
    since: entry.since.toISOString(),
    protocolVersion: entry.protocolVersion,
  };
  if (entry.state === "failed" && entry.error !== undefined) result.error = entry.error;
  if (entry.container !== undefined) result.container = { ...entry.container };
  if (entry.record?.shadow) result.shadow = true;
  if (entry.record?.allowDocker) result.dockerSocket = true;
  if (entry.credentials !== undefined) result.credentials = entry.credentials;
  return result;
}

export function describeHooks(info: AdapterInfo): string {
  return `${info.hooks.length} ${info.hooks.length === 1 ? "hook" : "hooks"}`;
}
