// Adapter containers' Docker events: a container that dies fails its adapter, and comes back with Docker's restart.
import type { HookRegistry } from "@powerstrip/proxy-core";
import { describeHooks, type Entry } from "./adapter-entry.js";
import type { AdapterTable } from "./adapter-table.js";
import { hookedAdapter } from "./handshake.js";
import type { ImageLauncher } from "./image-launcher.js";
import type { EventSubscription, RuntimeEvent } from "./runtime.js";

export interface ContainerWatchOptions {
  adapters: AdapterTable;
  registry: HookRegistry;
  launcher: ImageLauncher;
  log: (line: string, level: "info" | "warn") => void;
  /** The host is shutting down: nothing is subscribed or brought back any more. */
  closed: () => boolean;
}

export class ContainerWatch {
  private subscription: EventSubscription | undefined;

  constructor(private readonly options: ContainerWatchOptions) {}

  /** Subscribes to the engine's events for adapter containers, once. */
  start(): void {
    if (this.subscription !== undefined || this.options.closed()) return;
    this.subscription = this.options.launcher.runtime.events((event) => this.onContainerEvent(event));
  }

  close(): void {
    this.subscription?.close();
    this.subscription = undefined;
  }

  /**
   * An adapter container died: its hooks stay in the chain and its failure policy applies (a
   * `fail` adapter refuses the calls it hooks, an `ignore` one is skipped) until Docker restarts
   * it, when it is handshaken and registered again. Removed behind Powerstrip's back: failed.
   */
  private onContainerEvent(event: RuntimeEvent): void {
    const entry = this.options.adapters.get(event.adapter);
    if (entry === undefined || entry.kind !== "image" || this.options.closed()) return;
    // Powerstrip's own loads, reloads and unloads start and stop containers.
    if (entry.state === "loading" || entry.state === "unloading") return;
    const current = entry.container?.id === event.id;
    if (event.action === "die" && current && entry.state === "ready") {
      this.options.adapters.markFailed(
        entry,
        `its container ${entry.container!.name} exited with code ${event.exitCode ?? "unknown"}; back when Docker restarts it, or on powerstrip reload ${entry.name}`,
      );
      this.options.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    } else if (event.action === "destroy" && current) {
      entry.container = undefined;
      this.options.adapters.markFailed(
        entry,
        `its container was removed outside Powerstrip; powerstrip reload ${entry.name} creates it again`,
      );
      this.options.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
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
    const { launcher } = this.options;
    const record = entry.record!;
    this.options.adapters.setState(entry, "loading");
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
        await this.options.registry.unregister(entry.name);
        old.transport.close();
      }
      if (this.options.closed()) {
        launched.transport.close();
        return;
      }
      const info = this.options.adapters.goLive(
        entry,
        hookedAdapter(entry.name, launched.handshake, launched.transport, record.priority),
        (h) => h.path,
        launched.handshake,
      );
      this.options.log(`adapter ${info.name} is back (${describeHooks(info)})`, "info");
    } catch (error) {
      if (this.options.adapters.get(entry.name) !== entry) return;
      this.options.adapters.markFailed(entry, error);
      this.options.log(`adapter ${entry.name} failed: ${entry.error}`, "warn");
    }
  }
}
