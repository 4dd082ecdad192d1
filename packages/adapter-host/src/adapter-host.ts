import { join } from "node:path";
import { ADAPTER_ENDPOINTS, type AdapterInfo, type LoadRequest } from "@powerstrip/protocol";
import { type HookRegistry, HttpAdapterTransport } from "@powerstrip/proxy-core";
import packageJson from "../package.json" with { type: "json" };
import { describeHooks, type Entry, info } from "./adapter-entry.js";
import { grantsOf, imageRecord, kindOf, sourceOf, urlRecord, withoutName } from "./adapter-records.js";
import { AdapterTable } from "./adapter-table.js";
import {
  type AdapterLocation,
  assertNoPath,
  deriveLegacyName,
  hookEndpoint,
  parseAdapterUrl,
} from "./adapter-url.js";
import { type BootEntry, bootGrants } from "./boot-list.js";
import { ContainerWatch } from "./container-watch.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { hookedAdapter, performHandshake } from "./handshake.js";
import { ImageLauncher, type Launched } from "./image-launcher.js";
import {
  connectLegacy,
  type ImportOptions,
  importPlans,
  type LegacyPlan,
  legacyPlan,
} from "./legacy-adapters.js";
import {
  checkImageOptions,
  checkUrlOptions,
  type LoadImageOptions,
  type LoadProgress,
  type LoadUrlOptions,
  loadOptions,
} from "./load-request.js";
import {
  type AdapterRuntime,
  CONTAINER_PREFIX,
  type LogChunk,
  provisionalName,
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

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_SOCKET_TIMEOUT_MS = 15_000;

/**
 * The control path over the proxy's live hooks: loads adapters from images (a container, its
 * socket, a handshake) and by URL (handshake, or 2015 legacy hooks), imports 2015 adapters.yml
 * files, unloads, reloads, keeps the persisted adapter set, brings it back at boot, watches
 * adapter containers, and reports what is loaded.
 */
export class AdapterHost {
  private readonly adapters: AdapterTable;
  private readonly proxyVersion: string;
  private readonly handshakeTimeoutMs: number;
  private readonly now: () => Date;
  private readonly store: StateStore | undefined;
  private readonly launcher: ImageLauncher | undefined;
  private readonly watch: ContainerWatch | undefined;
  private readonly log: (line: string, level: HostLogLevel) => void;
  private readonly onUnloaded: (name: string) => void;
  private bootImages: string[] = [];
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
    this.adapters = new AdapterTable(registry, this.now);
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
      this.watch = new ContainerWatch({
        adapters: this.adapters,
        registry,
        launcher: this.launcher,
        log: this.log,
        closed: () => this.closed,
      });
    }
  }

  /** A LoadRequest as the admin API takes it: an image (with pull progress) or a URL. */
  async load(request: LoadRequest, onProgress?: (progress: LoadProgress) => void): Promise<AdapterInfo> {
    const options = loadOptions(request);
    return "image" in options ? this.loadImage(options.image, onProgress) : this.loadUrl(options.url);
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
    checkImageOptions(options);
    this.watch?.start();

    const { image } = options;
    const explicit = options.name;
    let name = explicit ?? this.adapters.freeName(provisionalName(image));
    let entry = this.adapters.reserve(name, image, { priority: options.priority, kind: "image" });
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
        this.adapters.delete(name);
        entry = this.adapters.reserve(declared, image, { priority: options.priority, kind: "image" });
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
      const record = imageRecord(name, options);
      await this.persist((set) => withRecord(set, record));
      entry.record = record;
      entry.persisted = true;
      entry.container = { id: launched.containerId, name: launched.containerName };
      return this.adapters.goLive(
        entry,
        hookedAdapter(name, launched.handshake, launched.transport, options.priority),
        (h) => h.path,
        launched.handshake,
      );
    } catch (error) {
      if (launched !== undefined) {
        launched.transport.close();
        await launcher.discard(launched.containerId, name);
      }
      if (this.adapters.get(entry.name) === entry && entry.adapter === undefined)
        this.adapters.delete(entry.name);
      throw error;
    }
  }

  /** Loads an adapter by URL; resolves once its hooks are live. */
  async loadUrl(options: LoadUrlOptions): Promise<AdapterInfo> {
    this.assertOpen();
    const location = parseAdapterUrl(options.url);
    checkUrlOptions(options);
    if (options.legacy) {
      const name = options.name ?? deriveLegacyName(location);
      const plan = legacyPlan(name, options.url, location, options.priority, options.hooks);
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
    const plans = importPlans(doc, options);
    for (const plan of plans) this.adapters.assertNameFree(plan.name);
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
    const entry = this.adapters.find(name);
    if (entry.state === "unloading") return entry.unloading;
    if (entry.state === "loading") {
      throw new AdapterHostError(
        AdapterHostErrorCode.Busy,
        `adapter ${name} is still loading; unload it once the load is done`,
      );
    }
    const before = { state: entry.state, since: entry.since };
    this.adapters.setState(entry, "unloading");
    const bootImage = entry.record?.image !== undefined ? this.bootImageOf(entry.record.image) : undefined;
    const drop = async () => {
      try {
        await this.registry.unregister(name);
      } finally {
        entry.adapter?.transport.close();
        this.adapters.delete(name);
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
    const entry = this.adapters.find(name);
    if (entry.state === "loading" || entry.state === "unloading") {
      throw new AdapterHostError(
        AdapterHostErrorCode.Busy,
        `adapter ${name} is ${entry.state}; reload it once that is done`,
      );
    }
    const record = entry.record;
    if (record === undefined)
      throw new AdapterHostError(AdapterHostErrorCode.Busy, `adapter ${name} cannot be reloaded`);
    this.adapters.setState(entry, "loading");
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
      this.adapters.delete(name);
      try {
        return await this.loadImage(withoutName(record), onProgress);
      } catch (error) {
        if (!this.adapters.has(name) && !this.closed) {
          this.adapters.set(entry);
          this.adapters.markFailed(entry, error);
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
      this.adapters.markFailed(entry, error);
      throw error;
    }
  }

  /** An image adapter's container output. */
  async logs(
    name: string,
    options: { follow?: boolean; tail?: number; signal?: AbortSignal } = {},
  ): Promise<AsyncIterable<LogChunk>> {
    const entry = this.adapters.find(name);
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
      const { record: next, warning } = bootGrants(record, entries);
      if (warning !== undefined) this.log(warning, "warn");
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
    this.watch?.start();
    const tasks: Promise<void>[] = [];
    for (const persisted of plan.restore) {
      const record = regranted.get(persisted.name) ?? persisted;
      let entry: Entry;
      try {
        entry = this.adapters.reserve(record.name, sourceOf(record), {
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
    return [...this.adapters.values()]
      .sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(info);
  }

  inspect(name: string): AdapterInfo {
    const entry = this.adapters.find(name);
    return info(entry);
  }

  /**
   * Loads nothing more and takes every adapter out of the chain (SIGTERM). Adapter containers
   * keep running and the persisted set is untouched: the next start re-adopts them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
    await Promise.all(
      [...this.adapters.values()]
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
            this.adapters.delete(entry.name);
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
        : this.adapters.reserve(options.name, source, { ...options, kind: "url" });
    const transport = new HttpAdapterTransport(hookEndpoint(location, ADAPTER_ENDPOINTS.hook));
    try {
      const handshake = await performHandshake(transport, {
        source,
        proxyVersion: this.proxyVersion,
        name: options.name,
        timeoutMs: this.handshakeTimeoutMs,
      });
      this.assertOpen();
      entry ??= this.adapters.reserve(handshake.name, source, { ...options, kind: "url" });
      const record = urlRecord(handshake.name, options);
      await this.persist((set) => withRecord(set, record));
      entry.record = record;
      entry.persisted = true;
      const adapter = hookedAdapter(handshake.name, handshake, transport, options.priority);
      return this.adapters.goLive(entry, adapter, (h) => h.path, handshake);
    } catch (error) {
      transport.close();
      if (entry !== undefined && entry.adapter === undefined) this.adapters.delete(entry.name);
      throw error;
    }
  }

  private async loadLegacy(plan: LegacyPlan, options: LoadUrlOptions): Promise<AdapterInfo> {
    const entry = this.adapters.reserve(plan.name, plan.url, { priority: plan.priority, kind: "legacy" });
    try {
      const { adapter, globs } = await connectLegacy(plan, this.handshakeTimeoutMs);
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
      return this.adapters.goLive(entry, adapter, (h) => globs.get(h) ?? h.path);
    } catch (error) {
      if (!entry.adapter) this.adapters.delete(entry.name);
      throw error;
    }
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
      this.adapters.markFailed(entry, error);
      this.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    }
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
      const name = this.adapters.freeName(provisionalName(image));
      const entry = this.adapters.reserve(name, image, { kind: "image" });
      entry.record = { name, source: "image", image, ...grants };
      entry.persisted = false;
      this.adapters.markFailed(entry, error);
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
      return this.adapters.goLive(
        entry,
        hookedAdapter(name, launched.handshake, launched.transport, record.priority),
        (h) => h.path,
        launched.handshake,
      );
    }
    const location = parseAdapterUrl(record.url!);
    if (record.legacy) {
      const plan = legacyPlan(name, record.url!, location, record.priority, record.hooks);
      const { adapter, globs } = await connectLegacy(plan, this.handshakeTimeoutMs);
      if (this.closed) {
        adapter.transport.close();
        this.assertOpen();
      }
      return this.adapters.goLive(entry, adapter, (h) => globs.get(h) ?? h.path);
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
      return this.adapters.goLive(
        entry,
        hookedAdapter(name, handshake, transport, record.priority),
        (h) => h.path,
        handshake,
      );
    } catch (error) {
      transport.close();
      throw error;
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

  private assertOpen(): void {
    if (this.closed) {
      throw new AdapterHostError(AdapterHostErrorCode.Closed, "powerstrip is shutting down; no more loads");
    }
  }
}
