import { connect } from "node:net";
import {
  ADAPTER_ENDPOINTS,
  type AdapterHook,
  type AdapterInfo,
  HANDSHAKE_DEFAULTS,
  type LoadRequest,
  validateLegacyAdaptersFile,
  validateLoadRequest,
} from "@powerstrip/protocol";
import {
  type FailurePolicy,
  type HookedAdapter,
  type HookRegistry,
  HttpAdapterTransport,
} from "@powerstrip/proxy-core";
import packageJson from "../package.json" with { type: "json" };
import {
  type AdapterLocation,
  assertNoPath,
  deriveLegacyName,
  hookEndpoint,
  parseAdapterUrl,
} from "./adapter-url.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { performHandshake } from "./handshake.js";
import { type LegacyHook, legacyFileHooks, parseLegacyHook } from "./legacy.js";

export interface AdapterHostOptions {
  /** The proxy's release, sent in every handshake (default: this package's version). */
  proxyVersion?: string;
  /** How long a handshake (or a legacy adapter's reachability check) may take (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** The clock `since` is read from (tests pin it). */
  now?: () => Date;
}

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
}

export interface ImportOptions {
  /** Where each adapter of the file listens on this host, by name (`--at NAME=URL`). */
  at?: Record<string, string>;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

type State = AdapterInfo["state"];

/** One adapter the host knows: reserved while it loads, live once its hooks are registered. */
interface Entry {
  name: string;
  source: string;
  kind: "url" | "legacy";
  state: State;
  since: Date;
  priority: number;
  failurePolicy: FailurePolicy;
  timeoutMs: number;
  protocolVersion: "1" | "2";
  hooks: AdapterHook[];
  adapter?: HookedAdapter;
  unloading?: Promise<void>;
}

/** A legacy adapter, checked and ready to be registered. */
interface LegacyPlan {
  name: string;
  url: string;
  location: AdapterLocation;
  priority: number;
  hooks: LegacyHook[];
}

/**
 * The control path over the proxy's live hooks: loads adapters by URL (handshake, or 2015 legacy
 * hooks), imports 2015 adapters.yml files, unloads, and reports what is loaded.
 */
export class AdapterHost {
  private readonly entries = new Map<string, Entry>();
  private readonly proxyVersion: string;
  private readonly handshakeTimeoutMs: number;
  private readonly now: () => Date;
  private closed = false;

  constructor(
    private readonly registry: HookRegistry,
    options: AdapterHostOptions = {},
  ) {
    this.proxyVersion = options.proxyVersion ?? packageJson.version;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.now = options.now ?? (() => new Date());
  }

  /** A LoadRequest as the admin API takes it; images arrive with a later release. */
  async load(request: LoadRequest): Promise<AdapterInfo> {
    const result = validateLoadRequest(request);
    if (!result.ok) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        `invalid load request: ${result.errors.join("; ")}`,
      );
    }
    if (request.image !== undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.NotImplemented,
        "loading images arrives with the adapters-as-images issue; load a running adapter with --url for now",
      );
    }
    return this.loadUrl({ ...request, url: request.url! });
  }

  /** Loads an adapter by URL; resolves once its hooks are live. */
  async loadUrl(options: LoadUrlOptions): Promise<AdapterInfo> {
    this.assertOpen();
    const location = parseAdapterUrl(options.url);
    const request: LoadRequest = { url: options.url };
    if (options.name !== undefined) request.name = options.name;
    if (options.priority !== undefined) request.priority = options.priority;
    if (options.legacy !== undefined) request.legacy = options.legacy;
    if (options.hooks !== undefined) request.hooks = options.hooks;
    const result = validateLoadRequest(request);
    if (!result.ok) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        `invalid load request: ${result.errors.join("; ")}`,
      );
    }
    if (options.legacy) {
      const plan: LegacyPlan = {
        name: options.name ?? deriveLegacyName(location),
        url: options.url,
        location,
        priority: options.priority ?? HANDSHAKE_DEFAULTS.priority,
        hooks: (options.hooks ?? []).map(parseLegacyHook),
      };
      return this.loadLegacy(plan);
    }
    assertNoPath(location, options.url);
    return this.loadCurrent(options, location);
  }

  /**
   * Loads every adapter of a parsed 2015 adapters.yml as a legacy adapter, hooked where its
   * `endpoints` say. All or nothing: if one fails, none stays loaded.
   */
  async importLegacyFile(doc: unknown, options: ImportOptions = {}): Promise<AdapterInfo[]> {
    this.assertOpen();
    const result = validateLegacyAdaptersFile(doc);
    if (!result.ok) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        `invalid adapters.yml: ${result.errors.join("; ")}`,
      );
    }
    const file = result.value;
    const at = options.at ?? {};
    const unknown = Object.keys(at).filter((name) => !Object.hasOwn(file.adapters, name));
    if (unknown.length > 0) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        `--at names ${unknown.join(", ")}, which adapters.yml does not define (it defines ${Object.keys(file.adapters).join(", ") || "none"})`,
      );
    }
    const hooks = legacyFileHooks(file);
    const plans: LegacyPlan[] = [];
    const offHost: string[] = [];
    for (const [name, fileUrl] of Object.entries(file.adapters)) {
      const url = at[name] ?? fileUrl;
      let location: AdapterLocation;
      try {
        location = parseAdapterUrl(url);
      } catch (error) {
        if (at[name] !== undefined) throw error;
        offHost.push(name);
        continue;
      }
      plans.push({
        name,
        url,
        location,
        priority: HANDSHAKE_DEFAULTS.priority,
        hooks: hooks.get(name) ?? [],
      });
    }
    if (offHost.length > 0) {
      const first = offHost[0]!;
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidUrl,
        `adapters.yml: ${offHost.map((n) => `${n} (${file.adapters[n]})`).join(", ")} ${offHost.length === 1 ? "is" : "are"} not on this host; map each to where it listens here with --at, e.g. --at ${first}=http://127.0.0.1:PORT/path or --at ${first}=unix:///path.sock`,
      );
    }
    for (const plan of plans) this.assertNameFree(plan.name);
    const loaded: AdapterInfo[] = [];
    try {
      for (const plan of plans) loaded.push(await this.loadLegacy(plan));
    } catch (error) {
      await Promise.all(loaded.map((info) => this.unload(info.name).catch(() => {})));
      throw error;
    }
    return loaded;
  }

  /** Takes an adapter out of the chain (after the calls already routed to it), then closes its transport. */
  async unload(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw notFound(name);
    if (entry.state === "unloading") return entry.unloading;
    if (entry.state === "loading") {
      throw new AdapterHostError(
        AdapterHostErrorCode.Busy,
        `adapter ${name} is still loading; unload it once the load is done`,
      );
    }
    this.setState(entry, "unloading");
    entry.unloading = (async () => {
      try {
        await this.registry.unregister(name);
      } finally {
        entry.adapter?.transport.close();
        this.entries.delete(name);
      }
    })();
    return entry.unloading;
  }

  /** Every adapter, in the order their pre-hooks run (priority, then name). */
  list(): AdapterInfo[] {
    return [...this.entries.values()]
      .sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(info);
  }

  inspect(name: string): AdapterInfo {
    const entry = this.entries.get(name);
    if (entry === undefined) throw notFound(name);
    return info(entry);
  }

  /** Loads nothing more and unloads everything (SIGTERM). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.entries.values()]
        .filter((entry) => entry.state !== "loading")
        .map((entry) => this.unload(entry.name).catch(() => {})),
    );
  }

  private async loadCurrent(options: LoadUrlOptions, location: AdapterLocation): Promise<AdapterInfo> {
    const source = options.url;
    // An operator-given name is reserved now, so a second load under it fails at once.
    let entry = options.name === undefined ? undefined : this.reserve(options.name, source, options);
    const transport = new HttpAdapterTransport(hookEndpoint(location, ADAPTER_ENDPOINTS.hook));
    try {
      const handshake = await performHandshake(transport, {
        source,
        proxyVersion: this.proxyVersion,
        name: options.name,
        timeoutMs: this.handshakeTimeoutMs,
      });
      this.assertOpen();
      entry ??= this.reserve(handshake.name, source, options);
      const adapter: HookedAdapter = {
        name: handshake.name,
        priority: options.priority ?? handshake.priority,
        failurePolicy: handshake.failurePolicy,
        timeoutMs: handshake.timeoutMs,
        protocolVersion: "2",
        hooks: handshake.hooks,
        transport,
      };
      return this.goLive(entry, adapter, (h) => h.path);
    } catch (error) {
      transport.close();
      if (entry !== undefined && entry.adapter === undefined) this.entries.delete(entry.name);
      throw error;
    }
  }

  private async loadLegacy(plan: LegacyPlan): Promise<AdapterInfo> {
    const entry = this.reserve(plan.name, plan.url, { priority: plan.priority, legacy: true });
    const path = plan.location.kind === "tcp" ? plan.location.path : "/";
    const transport = new HttpAdapterTransport(hookEndpoint(plan.location, path));
    try {
      // No handshake in 2015: at least make sure something answers there.
      await this.probe(plan);
      this.assertOpen();
      const adapter: HookedAdapter = {
        name: plan.name,
        priority: plan.priority,
        failurePolicy: HANDSHAKE_DEFAULTS.failurePolicy,
        timeoutMs: HANDSHAKE_DEFAULTS.timeoutMs,
        protocolVersion: "1",
        hooks: plan.hooks.map((h) => h.declaration),
        transport,
      };
      const globs = new Map(plan.hooks.map((h) => [h.declaration, h.glob]));
      return this.goLive(entry, adapter, (h) => globs.get(h) ?? h.path);
    } catch (error) {
      transport.close();
      if (!entry.adapter) this.entries.delete(entry.name);
      throw error;
    }
  }

  /** Registers the adapter: from here on its hooks are called. */
  private goLive(
    entry: Entry,
    adapter: HookedAdapter,
    shownPath: (hook: HookedAdapter["hooks"][number]) => string,
  ): AdapterInfo {
    this.registry.register(adapter);
    entry.adapter = adapter;
    entry.priority = adapter.priority;
    entry.failurePolicy = adapter.failurePolicy;
    entry.timeoutMs = adapter.timeoutMs;
    entry.hooks = adapter.hooks.map((h) => ({ method: h.method, path: shownPath(h), stage: h.stage }));
    this.setState(entry, "ready");
    return info(entry);
  }

  private reserve(
    name: string,
    source: string,
    options: { priority?: number | undefined; legacy?: boolean | undefined },
  ): Entry {
    this.assertNameFree(name);
    const entry: Entry = {
      name,
      source,
      kind: options.legacy ? "legacy" : "url",
      state: "loading",
      since: this.now(),
      priority: options.priority ?? HANDSHAKE_DEFAULTS.priority,
      failurePolicy: HANDSHAKE_DEFAULTS.failurePolicy,
      timeoutMs: HANDSHAKE_DEFAULTS.timeoutMs,
      protocolVersion: options.legacy ? "1" : "2",
      hooks: [],
    };
    this.entries.set(name, entry);
    return entry;
  }

  private assertNameFree(name: string): void {
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

  private setState(entry: Entry, state: State): void {
    entry.state = state;
    entry.since = this.now();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new AdapterHostError(AdapterHostErrorCode.Closed, "powerstrip is shutting down; no more loads");
    }
  }

  /** Connects to a legacy adapter's socket or port, within the handshake deadline. */
  private probe(plan: LegacyPlan): Promise<void> {
    const { location } = plan;
    return new Promise((resolve, reject) => {
      const socket =
        location.kind === "unix"
          ? connect({ path: location.socketPath })
          : connect({ host: location.host, port: location.port });
      const fail = (why: string, cause?: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new AdapterHostError(
            AdapterHostErrorCode.Unreachable,
            `cannot reach legacy adapter ${plan.name} at ${plan.url}: ${why}`,
            cause === undefined ? undefined : { cause },
          ),
        );
      };
      const timer = setTimeout(
        () => fail(`no answer within ${this.handshakeTimeoutMs} ms`),
        this.handshakeTimeoutMs,
      );
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
      socket.once("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message, error));
    });
  }
}

function info(entry: Entry): AdapterInfo {
  return {
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
}

function notFound(name: string): AdapterHostError {
  return new AdapterHostError(AdapterHostErrorCode.NotFound, `no adapter named ${name}`);
}
