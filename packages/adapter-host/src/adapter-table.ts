// The adapters the host knows, by name: reserving names, their states, and going live in the hook registry.
import { randomBytes } from "node:crypto";
import { type AdapterInfo, HANDSHAKE_DEFAULTS } from "@powerstrip/protocol";
import type { HookedAdapter, HookRegistry } from "@powerstrip/proxy-core";
import { type Entry, info, type State } from "./adapter-entry.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import type { Handshake } from "./handshake.js";

export class AdapterTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly registry: HookRegistry,
    private readonly now: () => Date,
  ) {}

  get(name: string): Entry | undefined {
    return this.entries.get(name);
  }

  /** The adapter named `name`, or NOT_FOUND. */
  find(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new AdapterHostError(AdapterHostErrorCode.NotFound, `no adapter named ${name}`);
    }
    return entry;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Puts back an entry that was taken out (a reload that failed). */
  set(entry: Entry): void {
    this.entries.set(entry.name, entry);
  }

  delete(name: string): void {
    this.entries.delete(name);
  }

  values(): IterableIterator<Entry> {
    return this.entries.values();
  }

  reserve(
    name: string,
    source: string,
    options: { priority?: number | undefined; kind: Entry["kind"] },
  ): Entry {
    this.assertNameFree(name);
    const entry: Entry = {
      name,
      source,
      kind: options.kind,
      state: "loading",
      since: this.now(),
      priority: options.priority ?? HANDSHAKE_DEFAULTS.priority,
      failurePolicy: HANDSHAKE_DEFAULTS.failurePolicy,
      timeoutMs: HANDSHAKE_DEFAULTS.timeoutMs,
      protocolVersion: options.kind === "legacy" ? "1" : "2",
      hooks: [],
    };
    this.entries.set(name, entry);
    return entry;
  }

  /** `base`, or `base-<random>` when an adapter has that name already (a provisional name only). */
  freeName(base: string): string {
    if (!this.entries.has(base) && this.registry.get(base) === undefined) return base;
    return `${base.slice(0, 55)}-${randomBytes(3).toString("hex")}`;
  }

  assertNameFree(name: string): void {
    const existing = this.entries.get(name);
    if (existing !== undefined) {
      const how = existing.state === "loading" ? "is being loaded" : "is already loaded";
      throw new AdapterHostError(
        AdapterHostErrorCode.NameTaken,
        `an adapter named ${name} ${how} (from ${existing.source}); unload it first, or give this one another name with --name`,
      );
    }
    if (this.registry.get(name) !== undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.NameTaken,
        `an adapter named ${name} is already hooked into the proxy; give this one another name with --name`,
      );
    }
  }

  /**
   * Registers the adapter: from here on its hooks are called. `declared` is what its handshake
   * asked for (none for a legacy adapter).
   */
  goLive(
    entry: Entry,
    adapter: HookedAdapter,
    shownPath: (hook: HookedAdapter["hooks"][number]) => string,
    declared?: Pick<Handshake, "credentials">,
  ): AdapterInfo {
    // Shadow is the operator's choice, kept in the record: it survives reloads and restarts.
    if (entry.record?.shadow) adapter.shadow = true;
    // Credentials need both: the adapter asks (each handshake), the operator allowed (the record).
    entry.credentials = !declared?.credentials
      ? "none"
      : entry.record?.allowCredentials
        ? "sent"
        : "withheld";
    if (entry.credentials === "sent") adapter.receivesCredentials = true;
    this.registry.register(adapter);
    entry.adapter = adapter;
    entry.priority = adapter.priority;
    entry.failurePolicy = adapter.failurePolicy;
    entry.timeoutMs = adapter.timeoutMs;
    entry.hooks = adapter.hooks.map((h) => ({ method: h.method, path: shownPath(h), stage: h.stage }));
    entry.error = undefined;
    this.setState(entry, "ready");
    return info(entry);
  }

  markFailed(entry: Entry, error: unknown): void {
    entry.error = error instanceof Error ? error.message : String(error);
    this.setState(entry, "failed");
  }

  setState(entry: Entry, state: State): void {
    entry.state = state;
    entry.since = this.now();
  }
}
