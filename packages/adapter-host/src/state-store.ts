import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { validateLoadRequest } from "@powerstrip/protocol";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { sameImage } from "./runtime.js";

/** One adapter of the persisted set: how to load it again. */
export interface AdapterRecord {
  name: string;
  source: "image" | "url";
  image?: string;
  url?: string;
  env?: Record<string, string>;
  priority?: number;
  network?: string;
  legacy?: boolean;
  hooks?: string[];
  /** Loaded in shadow mode (see LoadRequest.shadow). */
  shadow?: boolean;
  /** The operator allows credential headers to reach it, if it asks (LoadRequest.allowCredentials). */
  allowCredentials?: boolean;
  /** The operator allows a loader image the engine socket (LoadRequest.allowDocker). */
  allowDocker?: boolean;
}

/** `<stateDir>/adapters.json`: the adapters this host should run. */
export interface DesiredSet {
  version: 1;
  adapters: AdapterRecord[];
  /** Boot-list images an operator unloaded: not loaded again at boot until loaded explicitly. */
  unloadedBootImages: string[];
}

/** The file operations the store uses; tests replace some to simulate a full or read-only disk. */
export type StateFs = Pick<typeof fsp, "open" | "rename" | "unlink" | "readFile" | "mkdir">;

export const STATE_FILE = "adapters.json";

export function emptySet(): DesiredSet {
  return { version: 1, adapters: [], unloadedBootImages: [] };
}

/**
 * The persisted desired set of adapters. Read once when opened (a file that is not JSON or not of
 * its shape is refused, never overwritten); every change is written atomically — a temp file in
 * the same directory, fsync, rename, fsync of the directory — and takes effect in memory only once
 * it is on disk.
 */
export class StateStore {
  private set: DesiredSet;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    set: DesiredSet,
    private readonly fs: StateFs,
  ) {
    this.set = set;
  }

  /** The file the set lives in. */
  get file(): string {
    return join(this.dir, STATE_FILE);
  }

  /**
   * Opens (creating the directory, mode 0700, when missing) and reads the set; no file is an empty
   * set. Throws STATE_INVALID naming the file and what is wrong with it.
   */
  static async open(dir: string, options: { fs?: StateFs } = {}): Promise<StateStore> {
    const fs = options.fs ?? fsp;
    const file = join(dir, STATE_FILE);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new AdapterHostError(
        AdapterHostErrorCode.StateWriteFailed,
        `cannot create the state directory ${dir}: ${reason(error)}`,
        { cause: error },
      );
    }
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new StateStore(dir, emptySet(), fs);
      throw invalid(file, `cannot read it: ${reason(error)}`, error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw invalid(file, `not JSON (${(error as Error).message})`, error);
    }
    return new StateStore(dir, parseSet(file, parsed), fs);
  }

  /** A copy of the set as it is on disk. */
  get current(): DesiredSet {
    return structuredClone(this.set);
  }

  /**
   * Applies `change` to the set and writes the result; changes are serialised. When the write
   * fails (STATE_WRITE_FAILED), neither the file nor the set in memory has changed.
   */
  update(change: (set: DesiredSet) => DesiredSet): Promise<void> {
    const run = this.queue.then(async () => {
      const next = change(structuredClone(this.set));
      await this.write(next);
      this.set = next;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async write(set: DesiredSet): Promise<void> {
    const file = this.file;
    const temp = join(this.dir, `.${STATE_FILE}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const text = `${JSON.stringify(set, null, 2)}\n`;
    let created = false;
    try {
      // 0600: env values may hold secrets.
      const handle = await this.fs.open(temp, "wx", 0o600);
      created = true;
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(temp, file);
      created = false;
      const dir = await this.fs.open(this.dir, "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (error) {
      if (created) await this.fs.unlink(temp).catch(() => {});
      throw new AdapterHostError(
        AdapterHostErrorCode.StateWriteFailed,
        `cannot save the adapter set to ${file}: ${reason(error)}; nothing was changed`,
        { cause: error },
      );
    }
  }
}

/** Adds or replaces a record by name; loading an image clears its boot-list tombstone. */
export function withRecord(set: DesiredSet, record: AdapterRecord): DesiredSet {
  const adapters = set.adapters.filter((r) => r.name !== record.name);
  adapters.push(record);
  const unloadedBootImages =
    record.image === undefined
      ? set.unloadedBootImages
      : set.unloadedBootImages.filter((image) => !sameImage(image, record.image!));
  return { ...set, adapters, unloadedBootImages };
}

/** Drops a record by name; a boot-list image unloaded is remembered, so it stays unloaded. */
export function withoutRecord(set: DesiredSet, name: string, bootImage: string | undefined): DesiredSet {
  const adapters = set.adapters.filter((r) => r.name !== name);
  const unloadedBootImages =
    bootImage === undefined || set.unloadedBootImages.some((image) => sameImage(image, bootImage))
      ? set.unloadedBootImages
      : [...set.unloadedBootImages, bootImage];
  return { ...set, adapters, unloadedBootImages };
}

/** What to bring up at boot: the persisted set, then boot-list images it does not hold or tombstone. */
export function bootPlan(
  set: DesiredSet,
  bootImages: readonly string[],
): { restore: AdapterRecord[]; load: string[] } {
  const load: string[] = [];
  for (const image of bootImages) {
    const present = set.adapters.some((r) => r.image !== undefined && sameImage(r.image, image));
    const unloaded = set.unloadedBootImages.some((u) => sameImage(u, image));
    const twice = load.some((l) => sameImage(l, image));
    if (!present && !unloaded && !twice) load.push(image);
  }
  return { restore: set.adapters, load };
}

function parseSet(file: string, value: unknown): DesiredSet {
  const bad = (why: string) => invalid(file, why);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("expected a JSON object");
  const doc = value as Record<string, unknown>;
  if (doc.version !== 1) throw bad(`version: expected 1, found ${JSON.stringify(doc.version)}`);
  const unknown = Object.keys(doc).filter((k) => !["version", "adapters", "unloadedBootImages"].includes(k));
  if (unknown.length > 0) throw bad(`unknown field ${unknown.join(", ")}`);
  if (!Array.isArray(doc.adapters)) throw bad("adapters: expected an array");
  const boot = doc.unloadedBootImages ?? [];
  if (!Array.isArray(boot) || boot.some((i) => typeof i !== "string" || i === "")) {
    throw bad("unloadedBootImages: expected an array of image names");
  }
  const names = new Set<string>();
  const adapters = doc.adapters.map((entry, i) => {
    const at = `adapters[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw bad(`${at}: expected an object`);
    const { name, source, ...load } = entry as Record<string, unknown>;
    if (typeof name !== "string") throw bad(`${at}.name: expected the adapter's name`);
    if (source !== "image" && source !== "url") throw bad(`${at}.source: expected "image" or "url"`);
    if (source === "image" && load.image === undefined) throw bad(`${at}: an image adapter needs image`);
    if (source === "url" && load.url === undefined) throw bad(`${at}: a url adapter needs url`);
    // Everything but `source` is a LoadRequest with its name: the protocol's schema checks it.
    // A 2015 adapter that adapters.yml names in no endpoint hooks nothing; a LoadRequest cannot say so.
    const hooksNothing = load.legacy === true && Array.isArray(load.hooks) && load.hooks.length === 0;
    const result = validateLoadRequest(hooksNothing ? { url: load.url, name } : { ...load, name });
    if (!result.ok) throw bad(`${at}: ${result.errors.join("; ").replace(/^\(root\)\.?/, "")}`);
    if (names.has(name as string)) throw bad(`${at}.name: ${JSON.stringify(name)} appears twice`);
    names.add(name as string);
    return { name, source, ...load } as AdapterRecord;
  });
  return { version: 1, adapters, unloadedBootImages: boot as string[] };
}

function invalid(file: string, why: string, cause?: unknown): AdapterHostError {
  return new AdapterHostError(
    AdapterHostErrorCode.StateInvalid,
    `the adapter set in ${file} is unusable: ${why} (fix or move the file; powerstrip does not overwrite it)`,
    cause === undefined ? undefined : { cause },
  );
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}
