import { createRequire } from "node:module";
import type { Socket } from "node:net";

/** The process at the other end of a unix socket, as the kernel recorded it when it connected. */
export interface PeerCredentials {
  uid: number;
  gid: number;
  /** 0 when the peer is in a pid namespace this process cannot see (e.g. the proxy runs in a container). */
  pid: number;
}

type Lookup = (fd: number) => PeerCredentials | undefined;

/**
 * Node has no API for SO_PEERCRED, and nothing under /proc maps a connection to its peer. The
 * kernel's answer is one getsockopt(2) call on the connection's fd, made here through koffi (an
 * FFI with prebuilt binaries, no install script), an optional dependency: without it, or off
 * Linux, there is no lookup and callers send no uid rather than a guessed one.
 *
 * SO_PEERCRED is 17 on the generic Linux ABI; the architectures that number it otherwise (ppc,
 * mips, sparc, parisc) are left out rather than guessed.
 */
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const GENERIC_ABI = new Set(["x64", "arm64", "arm", "ia32", "riscv64", "loong64", "s390x"]);

let lookup: Lookup | null | undefined;

/**
 * The peer's uid, gid and pid for a unix socket connection, or undefined when the platform does
 * not say. One system call; the FFI is loaded on first use only.
 */
export function peerCredentials(socket: Socket): PeerCredentials | undefined {
  // The fd of a connected socket's libuv handle: undocumented but present on every Unix build.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return undefined;
  if (lookup === undefined) lookup = loadLookup();
  return lookup === null ? undefined : lookup(fd);
}

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  struct(name: string, members: Record<string, string>): unknown;
}

function loadLookup(): Lookup | null {
  if (process.platform !== "linux" || !GENERIC_ABI.has(process.arch)) return null;
  let koffi: Koffi;
  try {
    // Through createRequire so that bundlers leave the optional native package alone.
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    return null;
  }
  try {
    const libc = koffi.load("libc.so.6");
    koffi.struct("powerstrip_ucred", { pid: "int32_t", uid: "uint32_t", gid: "uint32_t" });
    const getsockopt = libc.func(
      "int getsockopt(int fd, int level, int name, _Out_ powerstrip_ucred *value, _Inout_ uint32_t *length)",
    );
    return (fd) => {
      const value: Partial<PeerCredentials> = {};
      const length = [12];
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0 || length[0] !== 12) return undefined;
      const { uid, gid, pid } = value;
      // The kernel says -1 (as unsigned) when it recorded no peer; an unmappable uid reads 65534.
      if (typeof uid !== "number" || typeof gid !== "number" || uid === 0xffffffff || gid === 0xffffffff) {
        return undefined;
      }
      return { uid, gid, pid: typeof pid === "number" && pid > 0 ? pid : 0 };
    };
  } catch {
    // A libc without the symbol (musl names its libc otherwise): no lookup.
    return null;
  }
}
