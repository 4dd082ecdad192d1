import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AdapterHostError } from "./errors.js";
import { normalizeImage, provisionalName, sameImage } from "./runtime.js";
import {
  type AdapterRecord,
  bootPlan,
  type DesiredSet,
  emptySet,
  STATE_FILE,
  StateStore,
  withoutRecord,
  withRecord,
} from "./state-store.js";
import { tempDir } from "./testing/test-adapter.js";

const labels: AdapterRecord = { name: "labels", source: "image", image: "acme/labels:1", env: { A: "b" } };
const flocker: AdapterRecord = {
  name: "flocker",
  source: "url",
  url: "http://127.0.0.1:8080/v1/extension",
  legacy: true,
  hooks: ["pre:POST /*/containers/create"],
};

async function refusal(promise: Promise<unknown>): Promise<AdapterHostError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AdapterHostError);
  return error as AdapterHostError;
}

describe("StateStore", () => {
  it("starts empty, creating its directory 0700, and writes atomically, 0600, leaving no temp file", async () => {
    const dir = join(tempDir(), "state");
    const store = await StateStore.open(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(store.current).toEqual(emptySet());
    await store.update((set) => withRecord(set, labels));
    const file = join(dir, STATE_FILE);
    expect(store.file).toBe(file);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      version: 1,
      adapters: [labels],
      unloadedBootImages: [],
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    // What was written reads back the same.
    expect((await StateStore.open(dir)).current).toEqual(store.current);
  });

  it("serialises concurrent changes: none is lost", async () => {
    const store = await StateStore.open(tempDir());
    await Promise.all(
      ["a", "b", "c", "d"].map((name) =>
        store.update((set) => withRecord(set, { name, source: "image", image: `acme/${name}` })),
      ),
    );
    expect(store.current.adapters.map((r) => r.name).sort()).toEqual(["a", "b", "c", "d"]);
  });

  it("goes through temp file, fsync, rename, directory fsync", async () => {
    const dir = tempDir();
    const steps: string[] = [];
    const fs = {
      ...fsp,
      open: (async (path: string, flags: string, mode?: number) => {
        const handle = await fsp.open(path, flags, mode);
        const name = path === dir ? "dir" : path.endsWith(".tmp") ? "temp" : path;
        steps.push(`open ${name}`);
        const sync = handle.sync.bind(handle);
        handle.sync = async () => {
          steps.push(`sync ${name}`);
          return sync();
        };
        return handle;
      }) as typeof fsp.open,
      rename: (async (from: string, to: string) => {
        steps.push(
          `rename ${from.endsWith(".tmp") ? "temp" : from} -> ${to === join(dir, STATE_FILE) ? "file" : to}`,
        );
        return fsp.rename(from, to);
      }) as typeof fsp.rename,
    };
    const store = await StateStore.open(dir, { fs });
    await store.update((set) => withRecord(set, labels));
    expect(steps).toEqual(["open temp", "sync temp", "rename temp -> file", "open dir", "sync dir"]);
  });

  it("a failed write changes nothing: not the file, not the set, no temp file left", async () => {
    const dir = tempDir();
    const seed = await StateStore.open(dir);
    await seed.update((set) => withRecord(set, labels));
    const before = readFileSync(join(dir, STATE_FILE), "utf8");
    const full = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    const store = await StateStore.open(dir, {
      fs: { ...fsp, rename: (async () => Promise.reject(full)) as typeof fsp.rename },
    });
    const error = await refusal(store.update((set) => withRecord(set, flocker)));
    expect(error.code).toBe("STATE_WRITE_FAILED");
    expect(error.message).toBe(
      `cannot save the adapter set to ${join(dir, STATE_FILE)}: ENOSPC; nothing was changed`,
    );
    expect(store.current.adapters).toEqual([labels]);
    expect(readFileSync(join(dir, STATE_FILE), "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    // The next change works once the disk has room again.
    const healthy = await StateStore.open(dir);
    await healthy.update((set) => withRecord(set, flocker));
    expect(healthy.current.adapters).toHaveLength(2);
  });

  it("a state directory that is gone (replaced by a file) fails the write with the reason", async () => {
    const dir = join(tempDir(), "state");
    const store = await StateStore.open(dir);
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory");
    const error = await refusal(store.update((set) => withRecord(set, labels)));
    expect(error.code).toBe("STATE_WRITE_FAILED");
    expect(error.message).toMatch(/: ENOTDIR; nothing was changed$/);
    expect(store.current).toEqual(emptySet());
  });

  const corrupt: [string, string, RegExp][] = [
    ["not JSON", '{"version": 1, "adapters": [', /: not JSON \(/],
    ["another version", '{"version": 2, "adapters": []}', /: version: expected 1, found 2/],
    ["adapters not a list", '{"version": 1, "adapters": {}}', /: adapters: expected an array/],
    [
      "a record without source",
      '{"version": 1, "adapters": [{"name": "x", "image": "a/b"}]}',
      /: adapters\[0\]\.source: expected "image" or "url"/,
    ],
    [
      "a record against the LoadRequest schema",
      '{"version": 1, "adapters": [{"name": "Bad Name", "source": "image", "image": "a/b"}]}',
      /: adapters\[0\]: name: must be lower-case/,
    ],
    [
      "a name twice",
      '{"version": 1, "adapters": [{"name": "x", "source": "image", "image": "a/b"}, {"name": "x", "source": "image", "image": "a/c"}]}',
      /: adapters\[1\]\.name: "x" appears twice/,
    ],
  ];
  for (const [what, text, message] of corrupt) {
    it(`refuses a state file that is ${what}, naming the file, and leaves it alone`, async () => {
      const dir = tempDir();
      const file = join(dir, STATE_FILE);
      writeFileSync(file, text);
      const error = await refusal(StateStore.open(dir));
      expect(error.code).toBe("STATE_INVALID");
      expect(error.message).toMatch(new RegExp(`^the adapter set in ${file} is unusable: `));
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/\(fix or move the file; powerstrip does not overwrite it\)$/);
      expect(error.message).not.toContain("\n");
      expect(readFileSync(file, "utf8")).toBe(text);
    });
  }

  it("accepts a legacy adapter that hooks nothing (an adapters.yml import can make one)", async () => {
    const dir = tempDir();
    const record = { name: "idle", source: "url", url: "http://127.0.0.1:9/", legacy: true, hooks: [] };
    writeFileSync(
      join(dir, STATE_FILE),
      JSON.stringify({ version: 1, adapters: [record], unloadedBootImages: [] }),
    );
    expect((await StateStore.open(dir)).current.adapters).toEqual([record]);
  });
});

describe("the desired set: records, tombstones, the boot plan", () => {
  const set = (adapters: AdapterRecord[], unloadedBootImages: string[] = []): DesiredSet => ({
    version: 1,
    adapters,
    unloadedBootImages,
  });

  it("replaces a record by name; loading an image clears its tombstone", () => {
    const next = withRecord(set([labels, flocker], ["docker.io/acme/labels:1", "acme/other"]), {
      ...labels,
      env: {},
    });
    expect(next.adapters).toEqual([flocker, { ...labels, env: {} }]);
    expect(next.unloadedBootImages).toEqual(["acme/other"]);
  });

  it("remembers an unloaded boot-list image once", () => {
    const once = withoutRecord(set([labels]), "labels", "acme/labels:1");
    expect(once).toEqual(set([], ["acme/labels:1"]));
    expect(withoutRecord(once, "labels", "docker.io/acme/labels:1")).toEqual(once);
    expect(withoutRecord(set([flocker]), "flocker", undefined)).toEqual(set([]));
  });

  it("boots the set, plus boot-list images neither in it nor unloaded, once each", () => {
    const plan = bootPlan(set([labels, flocker], ["acme/audit"]), [
      "acme/labels:1", // in the set (by image)
      "docker.io/acme/audit:latest", // unloaded by an operator
      "acme/policy",
      "acme/policy:latest", // the same image twice
      "localhost:5000/acme/other:2",
    ]);
    expect(plan.restore).toEqual([labels, flocker]);
    expect(plan.load).toEqual(["acme/policy", "localhost:5000/acme/other:2"]);
  });

  it("compares images in one spelling", () => {
    expect(normalizeImage("nginx")).toBe("docker.io/library/nginx:latest");
    expect(normalizeImage("acme/x")).toBe("docker.io/acme/x:latest");
    expect(normalizeImage("localhost:5000/x")).toBe("localhost:5000/x:latest");
    expect(normalizeImage("reg.example.com/a/b:1")).toBe("reg.example.com/a/b:1");
    expect(normalizeImage("a/b@sha256:abc")).toBe("docker.io/a/b@sha256:abc");
    expect(sameImage("acme/x", "docker.io/acme/x:latest")).toBe(true);
    expect(sameImage("acme/x:1", "acme/x:2")).toBe(false);
  });

  it("names an image adapter provisionally after its repository", () => {
    expect(provisionalName("localhost:5000/acme/label-injector:1.0")).toBe("label-injector");
    expect(provisionalName("clusterhq/flocker")).toBe("flocker");
    expect(provisionalName("Acme/Weird_Name@sha256:0123")).toBe("weird_name");
    expect(provisionalName("localhost:5000/--x")).toBe("x");
  });
});
