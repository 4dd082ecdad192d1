import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";

/**
 * Docker behind a narrow interface: what the control path needs to run adapter containers. The
 * host takes it as a constructor argument; `DockerRuntime` implements it over dockerode, unit tests
 * pass a fake.
 */

/** Every container Powerstrip creates carries this label, valued with the adapter's name. */
export const ADAPTER_LABEL = "io.powerstrip.adapter";
/** …and this one, valued with the image it was loaded from. */
export const IMAGE_LABEL = "io.powerstrip.image";
/** Where the adapter's socket directory is mounted in its container. */
export const CONTAINER_SOCKET_DIR = "/run/powerstrip";
/** The socket file the adapter listens on, in that directory. */
export const SOCKET_FILE = "adapter.sock";
/** The environment `serve()` reads. */
export const SOCKET_ENV = "POWERSTRIP_ADAPTER_SOCKET";
export const NAME_ENV = "POWERSTRIP_ADAPTER_NAME";
/**
 * An image labelled `io.powerstrip.loader=true` (the `powerstrip/adapter-loader` base sets it) runs
 * compose sets: its container also gets the engine socket the proxy itself uses (never the
 * proxy's own socket) mounted at LOADER_DOCKER_SOCKET — only when the operator allowed it
 * (`powerstrip load --allow-docker`), since the engine socket is control of the host. Nothing else
 * differs.
 */
export const LOADER_LABEL = "io.powerstrip.loader";
/** Refuses a loader image the operator did not grant the engine socket (`--allow-docker`). */
export function dockerNotAllowed(image: string): AdapterHostError {
  // As `docker plugin install` asks before it grants privileges: the socket is control of the host.
  return new AdapterHostError(
    AdapterHostErrorCode.NotAllowed,
    `${image} is a loader image (label ${LOADER_LABEL}=true): it runs containers through the Docker engine's socket, which gives it control of this host; add --allow-docker to grant that`,
  );
}

/** Where a loader container finds the engine socket. */
export const LOADER_DOCKER_SOCKET = "/var/run/docker.sock";
/** Adapter containers are named `powerstrip-<name>`. */
export const CONTAINER_PREFIX = "powerstrip-";

/** One line of `docker pull` progress, as the engine reports it. */
export interface PullProgress {
  /** The layer (or tag) the status is about. */
  id?: string;
  status: string;
  /** The engine's progress bar text, e.g. `[==>   ] 1.2MB/3.4MB`. */
  progress?: string;
}

/** What an adapter container is made of. */
export interface ContainerSpec {
  /** The container's name (`powerstrip-<adapter name>`). */
  name: string;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The host directory mounted at CONTAINER_SOCKET_DIR. */
  socketDir: string;
  /** The network mode (`none` unless the adapter needs more). */
  network: string;
  /** The operator allows a loader image the engine socket (`--allow-docker`); other images ignore it. */
  allowDocker?: boolean;
}

/** A container as the host needs to see it. */
export interface ContainerState {
  id: string;
  /** Without the leading `/`. */
  name: string;
  image: string;
  labels: Record<string, string>;
  /** Running and not being restarted. */
  running: boolean;
  /** The engine's word: created, running, restarting, exited, dead… */
  status: string;
  exitCode: number;
  restartCount: number;
  /** The host directory mounted at CONTAINER_SOCKET_DIR, if any. */
  socketDir: string | undefined;
}

/** A container of an adapter started, died or was removed. */
export interface RuntimeEvent {
  action: "start" | "die" | "destroy";
  id: string;
  /** The value of its ADAPTER_LABEL. */
  adapter: string;
  exitCode?: number;
}

/** A piece of a container's output, demultiplexed. */
export interface LogChunk {
  stream: "stdout" | "stderr";
  text: string;
}

export interface LogOptions {
  /** Keep streaming until the container stops or `signal` aborts. */
  follow?: boolean;
  /** Only the last N lines (default: all). */
  tail?: number;
  signal?: AbortSignal;
}

/** A subscription to the engine's events; `close()` ends it. */
export interface EventSubscription {
  close(): void;
}

export interface AdapterRuntime {
  /** Pulls `image` when it is not present locally; reports each progress line. */
  ensureImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void>;
  /** Creates and starts a container; resolves with its ID. Removes it again if it cannot start. */
  createAndStart(spec: ContainerSpec): Promise<string>;
  /** Starts a stopped container. */
  start(id: string): Promise<void>;
  /** Every container (running or not) labelled ADAPTER_LABEL=`adapter`. */
  findByLabel(adapter: string): Promise<ContainerState[]>;
  /** The container's state, or undefined when it does not exist. */
  inspect(id: string): Promise<ContainerState | undefined>;
  /**
   * Stops (SIGTERM, then SIGKILL after `timeoutS`, default the runtime's grace period) and
   * removes; a missing container is fine.
   */
  stopAndRemove(id: string, options?: { timeoutS?: number }): Promise<void>;
  /** The container's output; ends when it is all read, or with `follow` when the container stops. */
  logs(id: string, options?: LogOptions): AsyncIterable<LogChunk>;
  /** Calls `onEvent` for start/die/destroy of every container labelled ADAPTER_LABEL. */
  events(onEvent: (event: RuntimeEvent) => void): EventSubscription;
}

/**
 * The name an image adapter gets before its handshake: the last path component of the image,
 * without tag or digest, made to fit an adapter name (`localhost:5000/acme/label-injector:1.0` →
 * `label-injector`).
 */
export function provisionalName(image: string): string {
  const withoutDigest = image.split("@")[0]!;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const last = withoutDigest.slice(lastSlash + 1);
  const colon = last.indexOf(":");
  const repo = colon === -1 ? last : last.slice(0, colon);
  const name = repo
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63);
  return name === "" ? "adapter" : name;
}

/**
 * An image reference in one spelling, for comparisons: `acme/x` = `acme/x:latest` =
 * `docker.io/acme/x:latest`; `nginx` = `docker.io/library/nginx:latest`.
 */
export function normalizeImage(image: string): string {
  let ref = image.trim();
  const at = ref.indexOf("@");
  const digest = at === -1 ? "" : ref.slice(at);
  if (at !== -1) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf("/");
  const hasTag = ref.slice(lastSlash + 1).includes(":");
  if (!hasTag && digest === "") ref = `${ref}:latest`;
  const first = ref.split("/")[0]!;
  const hasRegistry =
    ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) ref = `docker.io/${ref.includes("/") ? ref : `library/${ref}`}`;
  return `${ref}${digest}`;
}

export function sameImage(a: string, b: string): boolean {
  return normalizeImage(a) === normalizeImage(b);
}
