import { posix } from "node:path";
import { type Adapter, type ClientIdentity, defineAdapter } from "@powerstrip/adapter-sdk";

export interface PolicyOptions {
  /**
   * Host directories that bind mounts may use (each allows itself and everything under it).
   * Empty: no host path may be bind-mounted; named volumes are always fine.
   */
  allowedBindPrefixes?: readonly string[];
  /**
   * Common names of TLS client certificates whose holders may create privileged containers
   * (the proxy verified the certificate against its --tlscacert). Empty: nobody may.
   */
  privilegedClients?: readonly string[];
}

/** Parses `PRIVILEGED_CLIENTS`: certificate common names separated by commas. Unset allows none. */
export function parsePrivilegedClients(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}

/** Whether the caller presented a verified TLS client certificate with one of `names` as its CN. */
export function isPrivilegedClient(client: ClientIdentity | undefined, names: readonly string[]): boolean {
  const commonName = client?.transport === "tls" ? client.certificate?.commonName : undefined;
  return commonName !== undefined && names.includes(commonName);
}

/**
 * Parses `ALLOWED_BIND_PREFIXES`: absolute host paths separated by colons (`/srv/data:/tmp/scratch`).
 * Unset or blank allows none. Each path is normalized (`/srv/./data/` → `/srv/data`); a relative
 * one throws, naming it.
 */
export function parseAllowedBindPrefixes(text: string | undefined): string[] {
  const prefixes: string[] = [];
  for (const entry of (text ?? "").split(":").map((e) => e.trim())) {
    if (entry === "") continue;
    if (!entry.startsWith("/")) {
      throw new Error(
        `ALLOWED_BIND_PREFIXES: ${JSON.stringify(entry)} is not an absolute path (e.g. ALLOWED_BIND_PREFIXES=/srv/data:/tmp/scratch)`,
      );
    }
    prefixes.push(normalizeHostPath(entry));
  }
  return prefixes;
}

/** `/allowed/../etc/` → `/etc`: what the path names once `.`, `..` and repeated slashes are resolved. */
export function normalizeHostPath(path: string): string {
  return posix.resolve("/", path);
}

/** Whether `hostPath` (absolute) is one of `prefixes` or under one of them, after normalizing. */
export function isAllowedHostPath(hostPath: string, prefixes: readonly string[]): boolean {
  const path = normalizeHostPath(hostPath);
  return prefixes.some((prefix) => prefix === "/" || path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * What a container-create body asks for that the policy refuses, one human-readable line each
 * (empty: allowed). Checks HostConfig.Privileged (unless `allowPrivileged`), HostConfig.Binds and
 * HostConfig.Mounts.
 */
export function createViolations(
  body: unknown,
  prefixes: readonly string[],
  allowPrivileged = false,
): string[] {
  const problems: string[] = [];
  const mounts: HostMount[] = [];
  for (const hostConfig of fields(body, "HostConfig")) {
    if (!allowPrivileged && fields(hostConfig, "Privileged").some((value) => value === true)) {
      problems.push("privileged containers are not allowed");
    }
    for (const binds of fields(hostConfig, "Binds")) mounts.push(...bindsMounts(binds));
    for (const list of fields(hostConfig, "Mounts")) mounts.push(...mountsMounts(list));
  }
  return [...new Set(problems), ...mountViolations(mounts, prefixes)];
}

/**
 * What a volume-create body asks for that the policy refuses: a `local` volume with `o=bind` is a
 * bind mount of its `device` under another name, so that host path must be allowed too.
 */
export function volumeViolations(body: unknown, prefixes: readonly string[]): string[] {
  const mounts: HostMount[] = [];
  for (const driver of orDefault(fields(body, "Driver"))) {
    for (const options of fields(body, "DriverOpts")) {
      const device = localVolumeHostPath(driver, options);
      if (device !== undefined) mounts.push({ hostPath: device, field: "DriverOpts.device" });
    }
  }
  return mountViolations(mounts, prefixes);
}

/** A host path some part of a request mounts, and where in the request it was written. */
interface HostMount {
  hostPath: string;
  field: string;
}

function mountViolations(mounts: HostMount[], prefixes: readonly string[]): string[] {
  const refused = mounts.filter((m) => !isAllowedHostPath(m.hostPath, prefixes));
  if (refused.length === 0) return [];
  const allowed =
    prefixes.length === 0
      ? "no host path may be bind-mounted here; use a named volume (-v NAME:/path) instead"
      : `allowed host paths are ${prefixes.join(", ")} and what is under them`;
  const what = [
    ...new Set(
      refused.map((m) => {
        const normalized = normalizeHostPath(m.hostPath);
        return normalized === m.hostPath ? m.hostPath : `${m.hostPath} (that is ${normalized})`;
      }),
    ),
  ];
  return [`bind mount of host path ${what.join(", ")} is not allowed: ${allowed}`];
}

/** `HostConfig.Binds`: `"/host:/ctr[:opts]"` binds a host path; `"name:/ctr"` is a named volume. */
function bindsMounts(binds: unknown): HostMount[] {
  if (!Array.isArray(binds)) return [];
  return binds.flatMap((bind, i): HostMount[] => {
    if (typeof bind !== "string") return [];
    const colon = bind.indexOf(":");
    // One part ("/ctr") is an anonymous volume at that path, not a bind.
    if (colon === -1) return [];
    const source = bind.slice(0, colon);
    return source.startsWith("/") ? [{ hostPath: source, field: `HostConfig.Binds[${i}]` }] : [];
  });
}

/** `HostConfig.Mounts`: `Type: "bind"` mounts `Source`; a volume mount may bind one through its options. */
function mountsMounts(list: unknown): HostMount[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((mount, i): HostMount[] => {
    const field = `HostConfig.Mounts[${i}]`;
    const types = fields(mount, "Type");
    const found: HostMount[] = [];
    if (types.includes("bind")) {
      const sources = fields(mount, "Source").filter((s): s is string => typeof s === "string");
      // Docker refuses a bind without an absolute Source; refuse it here too rather than guess.
      for (const source of sources.length > 0 ? sources : ["/"]) {
        found.push({ hostPath: source.startsWith("/") ? source : "/", field });
      }
    }
    if (types.includes("volume")) {
      for (const volumeOptions of fields(mount, "VolumeOptions")) {
        for (const driverConfig of fields(volumeOptions, "DriverConfig")) {
          for (const driver of orDefault(fields(driverConfig, "Name"))) {
            for (const options of fields(driverConfig, "Options")) {
              const device = localVolumeHostPath(driver, options);
              if (device !== undefined) found.push({ hostPath: device, field: `${field}.VolumeOptions` });
            }
          }
        }
      }
    }
    return found;
  });
}

/**
 * The host path a `local` volume mounts, if it mounts one: its `device` when `o` has `bind`
 * (a bind mount under another name) or when `device` is a local path (a block device).
 */
function localVolumeHostPath(driver: unknown, options: unknown): string | undefined {
  if (driver !== undefined && driver !== null && driver !== "" && driver !== "local") return undefined;
  if (!isObject(options)) return undefined;
  // The local driver reads these options by their exact names.
  const o = typeof options.o === "string" ? options.o.split(",").map((x) => x.trim()) : [];
  const device = typeof options.device === "string" ? options.device : undefined;
  if (o.includes("bind") || o.includes("rbind")) return device?.startsWith("/") ? device : "/";
  // "//server/share" is a CIFS share and ":/export" an NFS one: not paths on this host.
  if (device?.startsWith("/") && !device.startsWith("//")) return device;
  return undefined;
}

/**
 * The values of every member of `object` whose name Docker's JSON decoder would read as `name`.
 * Go's encoding/json matches member names case-insensitively (and folds `ſ` to `s`, `K` to
 * `k`), so `"hostconfig": {"privileged": true}` makes a privileged container: look at them all.
 */
function fields(object: unknown, name: string): unknown[] {
  if (!isObject(object)) return [];
  const folded = fold(name);
  return Object.keys(object)
    .filter((key) => fold(key) === folded)
    .map((key) => object[key]);
}

/** The values given, or `[undefined]` (Docker's default) when none was. */
function orDefault(values: unknown[]): unknown[] {
  return values.length > 0 ? values : [undefined];
}

function fold(name: string): string {
  return name.toUpperCase().toLowerCase();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A request whose body the policy did not see is not one it can allow. */
function unseen(adapterName: string, bodyOmitted: string | undefined): string {
  return `${adapterName}: cannot check this request: its body did not reach the policy (${bodyOmitted ?? "no body"}); send it as application/json`;
}

/**
 * An adapter that refuses, with a 403 the docker CLI prints, containers that are privileged or
 * bind-mount a host path outside `allowedBindPrefixes`, and local volumes that mount one.
 */
export function policy(options: PolicyOptions = {}): Adapter {
  const prefixes = (options.allowedBindPrefixes ?? []).map(normalizeHostPath);
  const privilegedClients = options.privilegedClients ?? [];
  return defineAdapter({
    name: "policy",
    version: "0.1.0",
    // Late on the way in: it judges the request as the adapters before it left it.
    priority: 9000,
    // A policy that cannot be asked lets nothing through.
    failurePolicy: "fail",
    hooks: {
      "POST /containers/create": {
        pre(ctx) {
          if (!isObject(ctx.body)) return ctx.deny(403, unseen(ctx.adapter, ctx.bodyOmitted));
          const allowPrivileged = isPrivilegedClient(ctx.client, privilegedClients);
          const problems = createViolations(ctx.body, prefixes, allowPrivileged);
          if (problems.length > 0) return ctx.deny(403, `${ctx.adapter}: ${problems.join("; ")}`);
        },
      },
      "POST /volumes/create": {
        pre(ctx) {
          // `docker volume create` without options may send no body at all.
          if (ctx.body === undefined && ctx.bodyOmitted === undefined) return;
          if (!isObject(ctx.body)) return ctx.deny(403, unseen(ctx.adapter, ctx.bodyOmitted));
          const problems = volumeViolations(ctx.body, prefixes);
          if (problems.length > 0) return ctx.deny(403, `${ctx.adapter}: ${problems.join("; ")}`);
        },
      },
    },
  });
}

/** The adapter as main.ts serves it: the allowlists from `ALLOWED_BIND_PREFIXES` and `PRIVILEGED_CLIENTS`. */
export const adapter: Adapter = policy({
  allowedBindPrefixes: parseAllowedBindPrefixes(process.env.ALLOWED_BIND_PREFIXES),
  privilegedClients: parsePrivilegedClients(process.env.PRIVILEGED_CLIENTS),
});
