import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { join } from "node:path";
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
import { type Handshake, performHandshake } from "./handshake.js";
import { ImageLauncher, type Launched } from "./image-launcher.js";
import { type LegacyHook, legacyFileHooks, parseLegacyHook } from "./legacy.js";
import {
  type AdapterRuntime,
  CONTAINER_PREFIX,
  type EventSubscription,
  type LogChunk,
  type PullProgress,
  provisionalName,
  type RuntimeEvent,
  sameImage,
} from "./runtime.js";
import {
  type AdapterRecord,
  bootPlan,
  type DesiredSet,
  type StateStore,
  withoutRecord,
  withRecord,
} from "./state-store.js";

export interface AdapterHostOptions {
  /** The proxy's release, sent in every handshake (default: this package's version). */
  proxyVersion?: string;
  /** How long a handshake (or a legacy adapter's reachability check) may take (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** The clock `since` is read from (tests pin it). */
  now?: () => Date;
  /** Runs image adapters (`DockerRuntime`); without one, image loads are refused. */
  runtime?: AdapterRuntime;
  /** The persisted adapter set; without one, nothing outlives the process. */
  store?: StateStore;
  /** Where adapters' socket directories are made (default `<store dir>/run`). */
  runDir?: string;
  /** How long an image adapter may take to listen on its socket (default 15000 ms). */
  socketTimeoutMs?: number;
  /** Extra labels on every adapter container (beside `io.powerstrip.adapter` and `io.powerstrip.image`). */
  labels?: Record<string, string>;
  /**
   * Reports what happens in the background: boot, adapters dying and coming back. `warn` for what
   * needs the operator (an adapter failed, was not restored, had its grants changed by the boot
   * list), `info` for the rest.
   */
  log?: (line: string, level: HostLogLevel) => void;
  /**
   * Called once an adapter is unloaded, after its last call has finished: the daemon drops its
   * metrics series here (`ProxyMetrics.forget`).
   */
  onUnloaded?: (name: string) => void;
}

/** The level of a line the host reports through `AdapterHostOptions.log`. */
export type HostLogLevel = "info" | "warn";

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

/** One image of the boot list (`--adapters`), with the grants the operator wrote after it. */
export interface BootEntry {
  image: string;
  allowCredentials?: boolean;
  allowDocker?: boolean;
}

export interface ImportOptions {
  /** Where each adapter of the file listens on this host, by name (`--at NAME=URL`). */
  at?: Record<string, string>;
}

/** Progress of a load: the engine's pull progress, line by line. */
export type LoadProgress = PullProgress;

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_SOCKET_TIMEOUT_MS = 15_000;

type State = AdapterInfo["state"];

/** One adapter the host knows: reserved while it loads, live once its hooks are registered. */
interface Entry {
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

/** A legacy adapter, checked and ready to be registered. */
interface LegacyPlan {
  name: string;
  url: string;
  location: AdapterLocation;
  priority: number;
  hooks: LegacyHook[];
}

/**
 * The control path over the proxy's live hooks: loads adapters from images (a container, its
 * socket, a handshake) and by URL (handshake, or 2015 legacy hooks), imports 2015 adapters.yml
 * files, unloads, reloads, keeps the persisted adapter set, brings it back at boot, watches
 * adapter containers, and reports what is loaded.
 */
export class AdapterHost {
  private readonly entries = new Map<string, Entry>();
  private readonly proxyVersion: string;
  private readonly handshakeTimeoutMs: number;
  private readonly now: () => Date;
  private readonly store: StateStore | undefined;
  private readonly launcher: ImageLauncher | undefined;
  private readonly log: (line: string, level: HostLogLevel) => void;
  private readonly onUnloaded: (name: string) => void;
  private bootImages: string[] = [];
  private watching: EventSubscription | undefined;
  private closed = false;

  constructor(
    private readonly registry: HookRegistry,
    options: AdapterHostOptions = {},
  ) {
    this.proxyVersion = options.proxyVersion ?? packageJson.version;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.now = options.now ?? (() => new Date());
    this.store = options.store;
    this.log = options.log ?? (() => {});
    this.onUnloaded = options.onUnloaded ?? (() => {});
    const runDir = options.runDir ?? (options.store ? join(options.store.dir, "run") : undefined);
    if (options.runtime !== undefined && runDir !== undefined) {
      this.launcher = new ImageLauncher({
        runtime: options.runtime,
        runDir,
        proxyVersion: this.proxyVersion,
        handshakeTimeoutMs: this.handshakeTimeoutMs,
        socketTimeoutMs: options.socketTimeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS,
        labels: options.labels ?? {},
      });
    }
  }

  /** A LoadRequest as the admin API takes it: an image (with pull progress) or a URL. */
  async load(request: LoadRequest, onProgress?: (progress: LoadProgress) => void): Promise<AdapterInfo> {
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
      return this.loadImage({ ...options, ...grantsOf(request) }, onProgress);
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
    return this.loadUrl({ ...options, ...grantsOf(request) });
  }

  /**
   * Loads an adapter image: pulls it when missing, runs it in a container `powerstrip-<name>`
   * with its socket directory mounted, waits for the socket, handshakes, persists it in the
   * adapter set and registers its hooks. Any failure removes what was created.
   */
  async loadImage(
    options: LoadImageOptions,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<AdapterInfo> {
    this.assertOpen();
    const launcher = this.requireLauncher();
    const request: LoadRequest = { image: options.image, ...grantsOf(options) };
    if (options.name !== undefined) request.name = options.name;
    if (options.env !== undefined) request.env = options.env;
    if (options.priority !== undefined) request.priority = options.priority;
    if (options.network !== undefined) request.network = options.network;
    const result = validateLoadRequest(request);
    if (!result.ok) throw invalidRequest(result.errors);
    this.ensureWatching();

    const { image } = options;
    const explicit = options.name;
    let name = explicit ?? this.freeName(provisionalName(image));
    let entry = this.reserve(name, image, { priority: options.priority, kind: "image" });
    let launched: Launched | undefined;
    try {
      await launcher.runtime.ensureImage(image, onProgress);
      this.assertOpen();
      const spec = {
        image,
        env: options.env ?? {},
        network: options.network ?? "none",
        allowDocker: options.allowDocker === true,
      };
      launched = await launcher.launch({ ...spec, name, sendName: explicit !== undefined });
      const declared = launched.handshake.name;
      if (explicit === undefined && declared !== name) {
        // Labels cannot change: recreate the container under the name the adapter declared.
        launched.transport.close();
        await launcher.discard(launched.containerId, name);
        launched = undefined;
        this.entries.delete(name);
        entry = this.reserve(declared, image, { priority: options.priority, kind: "image" });
        name = declared;
        launched = await launcher.launch({ ...spec, name, sendName: false });
        if (launched.handshake.name !== declared) {
          throw new AdapterHostError(
            AdapterHostErrorCode.HandshakeFailed,
            `handshake with ${image} failed: the adapter declared the name ${declared}, then ${launched.handshake.name}`,
          );
        }
      }
      this.assertOpen();
      const record: AdapterRecord = { name, source: "image", image, ...grantsOf(options) };
      if (options.env !== undefined) record.env = options.env;
      if (options.priority !== undefined) record.priority = options.priority;
      if (options.network !== undefined) record.network = options.network;
      await this.persist((set) => withRecord(set, record));
      entry.record = record;
      entry.persisted = true;
      entry.container = { id: launched.containerId, name: launched.containerName };
      return this.goLive(
        entry,
        this.hooked(name, launched, options.priority),
        (h) => h.path,
        launched.handshake,
      );
    } catch (error) {
      if (launched !== undefined) {
        launched.transport.close();
        await launcher.discard(launched.containerId, name);
      }
      if (this.entries.get(entry.name) === entry && entry.adapter === undefined)
        this.entries.delete(entry.name);
      throw error;
    }
  }

  /** Loads an adapter by URL; resolves once its hooks are live. */
  async loadUrl(options: LoadUrlOptions): Promise<AdapterInfo> {
    this.assertOpen();
    const location = parseAdapterUrl(options.url);
    const request = urlRequest(options);
    const result = validateLoadRequest(request);
    if (!result.ok) throw invalidRequest(result.errors);
    if (options.legacy && options.allowCredentials) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        "invalid load request: allowCredentials: not for legacy adapters (the 2015 messages carry no headers, so there is nothing to allow)",
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
      return this.loadLegacy(plan, options);
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
      for (const plan of plans) {
        const globs = plan.hooks.map((h) => `${h.declaration.stage}:${h.declaration.method} ${h.glob}`);
        loaded.push(
          await this.loadLegacy(plan, { url: plan.url, name: plan.name, legacy: true, hooks: globs }),
        );
      }
    } catch (error) {
      await Promise.all(loaded.map((info) => this.unload(info.name).catch(() => {})));
      throw error;
    }
    return loaded;
  }

  /**
   * Drops an adapter from the persisted set, takes it out of the chain (after the calls already
   * routed to it), closes its transport, and stops and removes its container. When the set
   * cannot be saved, nothing changes.
   */
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
    const before = { state: entry.state, since: entry.since };
    this.setState(entry, "unloading");
    const bootImage = entry.record?.image !== undefined ? this.bootImageOf(entry.record.image) : undefined;
    const drop = async () => {
      try {
        await this.registry.unregister(name);
      } finally {
        entry.adapter?.transport.close();
        this.entries.delete(name);
      }
      this.onUnloaded(name);
      if (entry.kind === "image" && this.launcher !== undefined) {
        try {
          await this.launcher.remove(name, entry.container?.id);
        } catch (error) {
          throw new AdapterHostError(
            AdapterHostErrorCode.DockerFailed,
            `unloaded ${name}, but could not remove its container ${CONTAINER_PREFIX}${name}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    };
    if (this.store === undefined || (!entry.persisted && bootImage === undefined)) {
      // Nothing to save: unhook at once.
      entry.unloading = drop();
    } else {
      entry.unloading = (async () => {
        try {
          await this.persist((set) => withoutRecord(set, name, bootImage));
        } catch (error) {
          entry.state = before.state;
          entry.since = before.since;
          entry.unloading = undefined;
          throw error;
        }
        await drop();
      })();
    }
    return entry.unloading;
  }

  /**
   * Loads the adapter again with the options it was loaded with: an image adapter gets a new
   * container (the image is pulled only when missing), a URL adapter a new handshake. Its hooks
   * are out of the chain meanwhile. A reload that fails leaves it `failed`, still in the set.
   */
  async reload(name: string, onProgress?: (progress: LoadProgress) => void): Promise<AdapterInfo> {
    this.assertOpen();
    const entry = this.entries.get(name);
    if (entry === undefined) throw notFound(name);
    if (entry.state === "loading" || entry.state === "unloading") {
      throw new AdapterHostError(
        AdapterHostErrorCode.Busy,
        `adapter ${name} is ${entry.state}; reload it once that is done`,
      );
    }
    const record = entry.record;
    if (record === undefined)
      throw new AdapterHostError(AdapterHostErrorCode.Busy, `adapter ${name} cannot be reloaded`);
    this.setState(entry, "loading");
    entry.error = undefined;
    const old = entry.adapter;
    entry.adapter = undefined;
    entry.hooks = [];
    if (old !== undefined) {
      await this.registry.unregister(name);
      old.transport.close();
    }
    if (!entry.persisted && record.source === "image") {
      // A boot-list image that never came up: load it as new, under the name it declares.
      this.entries.delete(name);
      try {
        return await this.loadImage(withoutName(record), onProgress);
      } catch (error) {
        if (!this.entries.has(name) && !this.closed) {
          this.entries.set(name, entry);
          this.markFailed(entry, error);
        }
        throw error;
      }
    }
    try {
      if (entry.kind === "image") {
        await this.requireLauncher().remove(name, entry.container?.id);
        entry.container = undefined;
      }
      return await this.bringUp(entry, record, { fresh: true, onProgress });
    } catch (error) {
      this.markFailed(entry, error);
      throw error;
    }
  }

  /** An image adapter's container output. */
  async logs(
    name: string,
    options: { follow?: boolean; tail?: number; signal?: AbortSignal } = {},
  ): Promise<AsyncIterable<LogChunk>> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw notFound(name);
    if (entry.kind !== "image") {
      throw new AdapterHostError(
        AdapterHostErrorCode.NoContainer,
        `adapter ${name} was loaded by URL: Powerstrip does not run it, so it has no logs here`,
      );
    }
    const launcher = this.requireLauncher();
    const id = entry.container?.id ?? (await launcher.runtime.findByLabel(name))[0]?.id;
    if (id === undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.NoContainer,
        `adapter ${name} has no container${entry.error ? ` (${entry.error})` : ""}`,
      );
    }
    return launcher.runtime.logs(id, options);
  }

  /**
   * Brings the adapter set back: every adapter of the persisted set (running containers are
   * re-adopted with a fresh handshake, stopped ones started, missing ones created; URL adapters
   * handshaken again), then each image of the boot list that the set neither holds nor remembers
   * as unloaded, with the grants its entry gives (see parseBootList). The boot list is the
   * operator's current word on the images it names: an adapter of the set whose image it names
   * gets the grants its entry writes, no more and no fewer, whatever it was loaded with — each
   * difference logged at warn and saved in the set; a changed `--allow-docker` recreates the
   * container. Adapters come up concurrently; one that fails is listed `failed` with its error.
   * Resolves when every adapter has settled; never rejects.
   */
  async boot(bootList: readonly (string | BootEntry)[] = []): Promise<void> {
    this.assertOpen();
    const entries = bootList.map((item): BootEntry => (typeof item === "string" ? { image: item } : item));
    const bootImages = entries.map((item) => item.image);
    this.bootImages = bootImages;
    const set: DesiredSet = this.store?.current ?? { version: 1, adapters: [], unloadedBootImages: [] };
    const plan = bootPlan(set, bootImages);
    const regranted = new Map<string, AdapterRecord>();
    for (const record of plan.restore) {
      const next = this.bootGrants(record, entries);
      if (next !== record) regranted.set(record.name, next);
    }
    if (regranted.size > 0) {
      try {
        await this.persist((current) => ({
          ...current,
          adapters: current.adapters.map((r) => regranted.get(r.name) ?? r),
        }));
      } catch (error) {
        // Applied all the same: the boot list says so again at the next start.
        this.log(`the grants the boot list changed could not be saved: ${(error as Error).message}`, "warn");
      }
    }
    if (this.launcher !== undefined) this.ensureWatching();
    const tasks: Promise<void>[] = [];
    for (const persisted of plan.restore) {
      const record = regranted.get(persisted.name) ?? persisted;
      let entry: Entry;
      try {
        entry = this.reserve(record.name, sourceOf(record), {
          priority: record.priority,
          kind: kindOf(record),
        });
      } catch (error) {
        this.log(`adapter ${record.name} not restored: ${(error as Error).message}`, "warn");
        continue;
      }
      entry.record = record;
      entry.persisted = true;
      const recreate = (record.allowDocker === true) !== (persisted.allowDocker === true);
      tasks.push(this.restore(entry, record, recreate));
    }
    for (const image of plan.load) tasks.push(this.bootLoad(entries.find((e) => e.image === image)!));
    await Promise.all(tasks);
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

  /**
   * Loads nothing more and takes every adapter out of the chain (SIGTERM). Adapter containers
   * keep running and the persisted set is untouched: the next start re-adopts them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.watching?.close();
    this.watching = undefined;
    await Promise.all(
      [...this.entries.values()]
        .filter((entry) => entry.state !== "loading")
        .map(async (entry) => {
          // Out of the chain at once (unregister swaps the chain before it waits), then the
          // transport closed, so the calls still routed to it fail now rather than at the
          // adapter's own timeout: how long shutdown takes is the daemon's bound, not the adapter's.
          const unregistered = this.registry.unregister(entry.name);
          entry.adapter?.transport.close();
          try {
            await unregistered;
          } finally {
            this.entries.delete(entry.name);
          }
        }),
    );
  }

  /** A current adapter by URL: handshake, persist, register. */
  private async loadCurrent(options: LoadUrlOptions, location: AdapterLocation): Promise<AdapterInfo> {
    const source = options.url;
    // An operator-given name is reserved now, so a second load under it fails at once.
    let entry =
      options.name === undefined
        ? undefined
        : this.reserve(options.name, source, { ...options, kind: "url" });
    const transport = new HttpAdapterTransport(hookEndpoint(location, ADAPTER_ENDPOINTS.hook));
    try {
      const handshake = await performHandshake(transport, {
        source,
        proxyVersion: this.proxyVersion,
        name: options.name,
        timeoutMs: this.handshakeTimeoutMs,
      });
      this.assertOpen();
      entry ??= this.reserve(handshake.name, source, { ...options, kind: "url" });
      const record = urlRecord(handshake.name, options);
      await this.persist((set) => withRecord(set, record));
      entry.record = record;
      entry.persisted = true;
      const adapter: HookedAdapter = {
        name: handshake.name,
        priority: options.priority ?? handshake.priority,
        failurePolicy: handshake.failurePolicy,
        timeoutMs: handshake.timeoutMs,
        protocolVersion: "2",
        hooks: handshake.hooks,
        transport,
      };
      return this.goLive(entry, adapter, (h) => h.path, handshake);
    } catch (error) {
      transport.close();
      if (entry !== undefined && entry.adapter === undefined) this.entries.delete(entry.name);
      throw error;
    }
  }

  private async loadLegacy(plan: LegacyPlan, options: LoadUrlOptions): Promise<AdapterInfo> {
    const entry = this.reserve(plan.name, plan.url, { priority: plan.priority, kind: "legacy" });
    try {
      const { adapter, globs } = await this.connectLegacy(plan);
      try {
        this.assertOpen();
        const record = urlRecord(plan.name, options);
        await this.persist((set) => withRecord(set, record));
        entry.record = record;
        entry.persisted = true;
      } catch (error) {
        adapter.transport.close();
        throw error;
      }
      return this.goLive(entry, adapter, (h) => globs.get(h) ?? h.path);
    } catch (error) {
      if (!entry.adapter) this.entries.delete(entry.name);
      throw error;
    }
  }

  /** Checks that a legacy adapter answers and builds its registration. */
  private async connectLegacy(
    plan: LegacyPlan,
  ): Promise<{ adapter: HookedAdapter; globs: Map<HookedAdapter["hooks"][number], string> }> {
    const path = plan.location.kind === "tcp" ? plan.location.path : "/";
    // No handshake in 2015: at least make sure something answers there.
    await this.probe(plan);
    const adapter: HookedAdapter = {
      name: plan.name,
      priority: plan.priority,
      failurePolicy: HANDSHAKE_DEFAULTS.failurePolicy,
      timeoutMs: HANDSHAKE_DEFAULTS.timeoutMs,
      protocolVersion: "1",
      hooks: plan.hooks.map((h) => h.declaration),
      transport: new HttpAdapterTransport(hookEndpoint(plan.location, path)),
    };
    return { adapter, globs: new Map(plan.hooks.map((h) => [h.declaration, h.glob])) };
  }

  /**
   * Boot: one adapter of the persisted set; `recreate` replaces its container (its engine-socket
   * grant changed). A failure leaves it listed `failed`.
   */
  private async restore(entry: Entry, record: AdapterRecord, recreate = false): Promise<void> {
    try {
      if (recreate) await this.requireLauncher().remove(record.name, undefined);
      const info = await this.bringUp(entry, record, { fresh: recreate });
      this.log(`adapter ${info.name} ready (${describeHooks(info)}) from ${info.source}`, "info");
    } catch (error) {
      this.markFailed(entry, error);
      this.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    }
  }

  /**
   * The record with the grants the boot list writes for its image, or the record itself when the
   * list does not name its image or writes the same grants. A difference is logged at warn.
   */
  private bootGrants(record: AdapterRecord, entries: readonly BootEntry[]): AdapterRecord {
    if (record.source !== "image") return record;
    const boot = entries.find((e) => sameImage(e.image, record.image!));
    if (boot === undefined) return record;
    const next: AdapterRecord = { ...record };
    const changes: string[] = [];
    for (const [key, flag] of [
      ["allowCredentials", "--allow-credentials"],
      ["allowDocker", "--allow-docker"],
    ] as const) {
      const wanted = boot[key] === true;
      if (wanted === (record[key] === true)) continue;
      if (wanted) next[key] = true;
      else delete next[key];
      changes.push(
        wanted ? `${flag} granted (the list writes it)` : `${flag} revoked (the list does not write it)`,
      );
    }
    if (changes.length === 0) return record;
    this.log(
      `adapter ${record.name}: the boot list (--adapters) names ${boot.image}, and its grants follow the list: ${changes.join("; ")}`,
      "warn",
    );
    return next;
  }

  /** Boot: an image of the boot list that is not in the set yet. */
  private async bootLoad(boot: BootEntry): Promise<void> {
    const { image } = boot;
    const grants = grantsOf(boot);
    try {
      const info = await this.loadImage({ image, ...grants });
      this.log(`adapter ${info.name} ready (${describeHooks(info)}) from ${image}`, "info");
    } catch (error) {
      if (this.closed) return;
      const name = this.freeName(provisionalName(image));
      const entry = this.reserve(name, image, { kind: "image" });
      entry.record = { name, source: "image", image, ...grants };
      entry.persisted = false;
      this.markFailed(entry, error);
      this.log(`adapter ${image} failed: ${entry.error}`, "warn");
    }
  }

  /**
   * Connects a recorded adapter under its recorded name and registers it. An image adapter's
   * running container is adopted (unless `fresh`), a stopped one started, a missing one created.
   */
  private async bringUp(
    entry: Entry,
    record: AdapterRecord,
    options: { fresh: boolean; onProgress?: ((progress: LoadProgress) => void) | undefined },
  ): Promise<AdapterInfo> {
    const { name } = record;
    if (record.source === "image") {
      const launcher = this.requireLauncher();
      const image = record.image!;
      const existing = options.fresh ? [] : await launcher.runtime.findByLabel(name);
      const mine = existing.find((c) => c.name === `${CONTAINER_PREFIX}${name}`) ?? existing[0];
      let launched: Launched;
      if (mine !== undefined) {
        entry.container = { id: mine.id, name: mine.name };
        launched = await launcher.adopt(name, image, mine);
      } else {
        await launcher.runtime.ensureImage(image, options.onProgress);
        this.assertOpen();
        launched = await launcher.launch({
          name,
          image,
          env: record.env ?? {},
          network: record.network ?? "none",
          sendName: true,
          allowDocker: record.allowDocker === true,
        });
        entry.container = { id: launched.containerId, name: launched.containerName };
      }
      if (this.closed) {
        launched.transport.close();
        this.assertOpen();
      }
      return this.goLive(
        entry,
        this.hooked(name, launched, record.priority),
        (h) => h.path,
        launched.handshake,
      );
    }
    const location = parseAdapterUrl(record.url!);
    if (record.legacy) {
      const plan: LegacyPlan = {
        name,
        url: record.url!,
        location,
        priority: record.priority ?? HANDSHAKE_DEFAULTS.priority,
        hooks: (record.hooks ?? []).map(parseLegacyHook),
      };
      const { adapter, globs } = await this.connectLegacy(plan);
      if (this.closed) {
        adapter.transport.close();
        this.assertOpen();
      }
      return this.goLive(entry, adapter, (h) => globs.get(h) ?? h.path);
    }
    const transport = new HttpAdapterTransport(hookEndpoint(location, ADAPTER_ENDPOINTS.hook));
    try {
      const handshake = await performHandshake(transport, {
        source: record.url!,
        proxyVersion: this.proxyVersion,
        name,
        timeoutMs: this.handshakeTimeoutMs,
      });
      this.assertOpen();
      return this.goLive(
        entry,
        {
          name,
          priority: record.priority ?? handshake.priority,
          failurePolicy: handshake.failurePolicy,
          timeoutMs: handshake.timeoutMs,
          protocolVersion: "2",
          hooks: handshake.hooks,
          transport,
        },
        (h) => h.path,
        handshake,
      );
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /** Subscribes to the engine's events for adapter containers, once. */
  private ensureWatching(): void {
    if (this.watching !== undefined || this.launcher === undefined || this.closed) return;
    this.watching = this.launcher.runtime.events((event) => this.onContainerEvent(event));
  }

  /**
   * An adapter container died: its hooks stay in the chain and its failure policy applies (a
   * `fail` adapter refuses the calls it hooks, an `ignore` one is skipped) until Docker restarts
   * it, when it is handshaken and registered again. Removed behind Powerstrip's back: failed.
   */
  private onContainerEvent(event: RuntimeEvent): void {
    const entry = this.entries.get(event.adapter);
    if (entry === undefined || entry.kind !== "image" || this.closed) return;
    // Powerstrip's own loads, reloads and unloads start and stop containers.
    if (entry.state === "loading" || entry.state === "unloading") return;
    const current = entry.container?.id === event.id;
    if (event.action === "die" && current && entry.state === "ready") {
      this.markFailed(
        entry,
        `its container ${entry.container!.name} exited with code ${event.exitCode ?? "unknown"}; back when Docker restarts it, or on powerstrip reload ${entry.name}`,
      );
      this.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    } else if (event.action === "destroy" && current) {
      entry.container = undefined;
      this.markFailed(
        entry,
        `its container was removed outside Powerstrip; powerstrip reload ${entry.name} creates it again`,
      );
      this.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    } else if (
      event.action === "start" &&
      entry.state === "failed" &&
      entry.persisted &&
      (entry.container === undefined || current)
    ) {
      void this.recover(entry, event.id);
    }
  }

  /** Docker restarted an adapter's container: wait for its socket, handshake, register again. */
  private async recover(entry: Entry, containerId: string): Promise<void> {
    const launcher = this.requireLauncher();
    const record = entry.record!;
    this.setState(entry, "loading");
    try {
      const state = await launcher.runtime.inspect(containerId);
      if (state === undefined) throw new Error("its container is gone");
      entry.container = { id: state.id, name: state.name };
      const launched = await launcher.reconnect(
        entry.name,
        record.image!,
        state.id,
        state.name,
        state.socketDir ?? launcher.socketDir(entry.name),
      );
      const old = entry.adapter;
      if (old !== undefined) {
        entry.adapter = undefined;
        await this.registry.unregister(entry.name);
        old.transport.close();
      }
      if (this.closed) {
        launched.transport.close();
        return;
      }
      const info = this.goLive(
        entry,
        this.hooked(entry.name, launched, record.priority),
        (h) => h.path,
        launched.handshake,
      );
      this.log(`adapter ${info.name} is back (${describeHooks(info)})`, "info");
    } catch (error) {
      if (this.entries.get(entry.name) !== entry) return;
      this.markFailed(entry, error);
      this.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    }
  }

  private hooked(name: string, launched: Launched, priority: number | undefined): HookedAdapter {
    const { handshake } = launched;
    return {
      name,
      priority: priority ?? handshake.priority,
      failurePolicy: handshake.failurePolicy,
      timeoutMs: handshake.timeoutMs,
      protocolVersion: "2",
      hooks: handshake.hooks,
      transport: launched.transport,
    };
  }

  /**
   * Registers the adapter: from here on its hooks are called. `declared` is what its handshake
   * asked for (none for a legacy adapter).
   */
  private goLive(
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

  private markFailed(entry: Entry, error: unknown): void {
    entry.error = error instanceof Error ? error.message : String(error);
    this.setState(entry, "failed");
  }

  private reserve(
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
  private freeName(base: string): string {
    if (!this.entries.has(base) && this.registry.get(base) === undefined) return base;
    return `${base.slice(0, 55)}-${randomBytes(3).toString("hex")}`;
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

  /** Saves a change of the adapter set (when there is a store). */
  private async persist(change: (set: DesiredSet) => DesiredSet): Promise<void> {
    if (this.store !== undefined) await this.store.update(change);
  }

  /** The boot-list spelling of `image`, when the boot list has it. */
  private bootImageOf(image: string): string | undefined {
    return this.bootImages.find((b) => sameImage(b, image));
  }

  private requireLauncher(): ImageLauncher {
    if (this.launcher === undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.NotImplemented,
        "this Powerstrip host runs no container runtime, so it cannot load adapter images; load a running adapter with --url",
      );
    }
    return this.launcher;
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

function urlRequest(options: LoadUrlOptions): LoadRequest {
  const request: LoadRequest = { url: options.url, ...grantsOf(options) };
  if (options.name !== undefined) request.name = options.name;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.legacy !== undefined) request.legacy = options.legacy;
  if (options.hooks !== undefined) request.hooks = options.hooks;
  return request;
}

function urlRecord(name: string, options: LoadUrlOptions): AdapterRecord {
  const record: AdapterRecord = { name, source: "url", url: options.url, ...grantsOf(options) };
  if (options.priority !== undefined) record.priority = options.priority;
  if (options.legacy) {
    record.legacy = true;
    record.hooks = options.hooks ?? [];
  }
  return record;
}

function withoutName(record: AdapterRecord): LoadImageOptions {
  const options: LoadImageOptions = { image: record.image!, ...grantsOf(record) };
  if (record.env !== undefined) options.env = record.env;
  if (record.priority !== undefined) options.priority = record.priority;
  if (record.network !== undefined) options.network = record.network;
  return options;
}

/** What the operator chose for an adapter beyond what it declares: shadow mode and the two grants. */
type Grants = Pick<LoadRequest, "shadow" | "allowCredentials" | "allowDocker">;

/** The grants `from` holds, each written only when true (records and requests never say `false`). */
function grantsOf(from: Grants): Grants {
  const grants: Grants = {};
  if (from.shadow) grants.shadow = true;
  if (from.allowCredentials) grants.allowCredentials = true;
  if (from.allowDocker) grants.allowDocker = true;
  return grants;
}

function sourceOf(record: AdapterRecord): string {
  return record.source === "image" ? record.image! : record.url!;
}

function kindOf(record: AdapterRecord): Entry["kind"] {
  return record.source === "image" ? "image" : record.legacy ? "legacy" : "url";
}

function describeHooks(info: AdapterInfo): string {
  return `${info.hooks.length} ${info.hooks.length === 1 ? "hook" : "hooks"}`;
}

function invalidRequest(errors: string[]): AdapterHostError {
  return new AdapterHostError(
    AdapterHostErrorCode.InvalidRequest,
    `invalid load request: ${errors.join("; ")}`,
  );
}

function info(entry: Entry): AdapterInfo {
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

function notFound(name: string): AdapterHostError {
  return new AdapterHostError(AdapterHostErrorCode.NotFound, `no adapter named ${name}`);
}
