/**
 * The adapter's docker-compose.yml, read and checked, and the override file the loader lays over
 * it: the adapter label on everything compose creates, the socket directory and environment for
 * the service that serves the hooks. The user's file is never edited.
 */
import { parse } from "yaml";

/** Labelled on the service that serves the set's hooks (`io.powerstrip.hooks: "true"`). */
export const HOOKS_LABEL = "io.powerstrip.hooks";
export const ADAPTER_LABEL = "io.powerstrip.adapter";
/** On everything a loader creates: the loader image's ID, to find sets whose loader is gone. */
export const LOADER_IMAGE_LABEL = "io.powerstrip.loader-image";
export const SOCKET_DIR = "/run/powerstrip";
export const SOCKET_ENV = "POWERSTRIP_ADAPTER_SOCKET";
export const NAME_ENV = "POWERSTRIP_ADAPTER_NAME";
export const SOCKET_FILE = "adapter.sock";

/** A compose file the loader cannot run: the message says what and how to fix it. */
export class ComposeFileError extends Error {
  override name = "ComposeFileError";
}

export interface ComposeService {
  name: string;
  image: string | undefined;
  /** Labelled io.powerstrip.hooks=true. */
  hooks: boolean;
  /** Uses the project's default network (no network_mode, no networks). */
  usesDefaultNetwork: boolean;
}

export interface ComposePlan {
  /** The file's `version`, copied into the override (compose refuses files of mixed versions). */
  version: string | undefined;
  services: ComposeService[];
  /** The service serving the hooks, if any (else the set is lifecycle-only). */
  hooksService: string | undefined;
  /** Networks and volumes the file declares that compose creates (not `external`). */
  networks: string[];
  volumes: string[];
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);

/** Labels in either compose spelling (map, or `key=value` list). */
export function readLabels(value: unknown): Record<string, string> {
  if (Array.isArray(value)) {
    const out: Record<string, string> = {};
    for (const item of value) {
      const text = String(item);
      const eq = text.indexOf("=");
      if (eq === -1) out[text] = "";
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  if (isDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v ?? "")]));
  return {};
}

/** A short bind mount (`SRC:DST[:mode]`) or long one (`type: bind`) whose source is not absolute. */
function relativeBind(volume: unknown): string | undefined {
  if (typeof volume === "string") {
    const parts = volume.split(":");
    if (parts.length < 2) return undefined; // an anonymous volume
    const source = parts[0]!;
    if (source.startsWith(".") || source.startsWith("~")) return source;
    return undefined;
  }
  if (isDict(volume) && volume.type === "bind" && typeof volume.source === "string") {
    const source = volume.source;
    return source.startsWith("/") || source.startsWith("$") ? undefined : source;
  }
  return undefined;
}

/**
 * Reads and checks the compose file's text. Refuses, with a message saying how to fix it: YAML
 * that does not parse, the 2014 format (no `services:`; `net: host` is `network_mode: host` now),
 * no services, `build:` (the loader has no build context), relative bind mounts (the daemon
 * resolves them on the host, not in the loader), more than one hooks service.
 */
export function planCompose(text: string, file = "docker-compose.yml"): ComposePlan {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0]!.replace(/:\s*$/, "");
    throw new ComposeFileError(`${file} is not valid YAML: ${reason}`);
  }
  if (!isDict(doc))
    throw new ComposeFileError(`${file} is not a compose file: expected a mapping with services:`);
  if (!isDict(doc.services)) {
    const hint = Object.values(doc).some((s) => isDict(s) && "net" in s)
      ? " (the 2014 format: put the services under services:, and write net: host as network_mode: host)"
      : "";
    throw new ComposeFileError(`${file} has no services: mapping${hint}`);
  }
  const entries = Object.entries(doc.services);
  if (entries.length === 0) throw new ComposeFileError(`${file} declares no services`);
  const services: ComposeService[] = [];
  const problems: string[] = [];
  for (const [name, raw] of entries) {
    if (!isDict(raw)) {
      problems.push(`service ${name} is not a mapping`);
      continue;
    }
    if (raw.build !== undefined) {
      problems.push(
        `service ${name} has build: the loader has no build context; build the image beforehand (docker build -t IMAGE …) and name it with image:`,
      );
    }
    if (typeof raw.image !== "string" && raw.build === undefined)
      problems.push(`service ${name} has no image:`);
    if ("net" in raw)
      problems.push(`service ${name} has net: (the 2014 format): write network_mode: ${String(raw.net)}`);
    for (const volume of Array.isArray(raw.volumes) ? raw.volumes : []) {
      const source = relativeBind(volume);
      if (source !== undefined) {
        problems.push(
          `service ${name} bind-mounts the relative path ${source}: the Docker daemon resolves bind mounts on the host, where the adapter's files are not; use a named volume, or an absolute host path`,
        );
      }
    }
    if (typeof raw.env_file === "string" || Array.isArray(raw.env_file)) {
      problems.push(
        `service ${name} has env_file: the loader image holds only docker-compose.yml; use environment: with \${VARIABLES} set by powerstrip load --env`,
      );
    }
    const hooks = readLabels(raw.labels)[HOOKS_LABEL] === "true";
    const usesDefaultNetwork = raw.network_mode === undefined && raw.networks === undefined;
    services.push({
      name,
      image: typeof raw.image === "string" ? raw.image : undefined,
      hooks,
      usesDefaultNetwork,
    });
  }
  const hooksServices = services.filter((s) => s.hooks).map((s) => s.name);
  if (hooksServices.length > 1) {
    problems.push(
      `services ${hooksServices.join(", ")} are all labelled ${HOOKS_LABEL}: "true"; one service serves a set's hooks`,
    );
  }
  if (problems.length > 0) throw new ComposeFileError(`${file}: ${problems.join("; ")}`);
  const created = (section: unknown) =>
    isDict(section)
      ? Object.entries(section)
          .filter(([, v]) => !(isDict(v) && (v.external === true || isDict(v.external))))
          .map(([k]) => k)
      : [];
  return {
    version: doc.version === undefined ? undefined : String(doc.version),
    services,
    hooksService: hooksServices[0],
    networks: created(doc.networks),
    volumes: created(doc.volumes),
  };
}

export interface OverrideOptions {
  /** The adapter's name. */
  name: string;
  /** The host path of the loader's socket directory (the source of its /run/powerstrip mount). */
  hostSocketDir: string;
  /** The loader image's ID (LOADER_IMAGE_LABEL). */
  loaderImage: string;
  /** Extra labels on everything (tests add io.powerstrip.test). */
  labels?: Record<string, string>;
}

/**
 * The override laid over the user's file (JSON, which is YAML): the labels on every service,
 * network and volume compose creates; the hooks service gets the socket directory (its host
 * path, mounted at the same place as in the loader) and the environment `serve()` reads.
 */
export function composeOverride(plan: ComposePlan, options: OverrideOptions): Dict {
  const labels = {
    ...options.labels,
    [ADAPTER_LABEL]: options.name,
    [LOADER_IMAGE_LABEL]: options.loaderImage,
  };
  const services: Dict = {};
  for (const service of plan.services) {
    const spec: Dict = { labels };
    if (service.hooks) {
      spec.volumes = [`${options.hostSocketDir}:${SOCKET_DIR}`];
      spec.environment = { [SOCKET_ENV]: `${SOCKET_DIR}/${SOCKET_FILE}`, [NAME_ENV]: options.name };
    }
    services[service.name] = spec;
  }
  const out: Dict = {};
  if (plan.version !== undefined) out.version = plan.version;
  out.services = services;
  const networks = new Set(plan.networks);
  if (plan.services.some((s) => s.usesDefaultNetwork)) networks.add("default");
  if (networks.size > 0) out.networks = Object.fromEntries([...networks].map((n) => [n, { labels }]));
  if (plan.volumes.length > 0) out.volumes = Object.fromEntries(plan.volumes.map((v) => [v, { labels }]));
  return out;
}

/** The compose project of an adapter: `powerstrip-<name>`. */
export function projectName(name: string): string {
  return `powerstrip-${name}`;
}
