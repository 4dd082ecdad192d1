import { createHash } from "node:crypto";

const BLOCK = 512;
const CHUNK = 1024 * 1024;
/** Incompressible but the same on every run, so every upload and download has the same bytes. */
const DATA = deterministicBytes(CHUNK);

/**
 * A tar stream of one file of `size` bytes, generated as it is read: a ustar header, the data
 * (one pseudo-random 1 MiB block repeated, so nothing compresses or sparsifies), then the two empty
 * end blocks. Memory stays at 1 MiB whatever the size.
 */
export function tarOfOneFile(name, size, mtime = 1_700_000_000) {
  if (size % BLOCK !== 0) throw new Error("size must be a multiple of 512 (no padding written)");
  const header = ustarHeader(name, size, mtime);
  return {
    length: header.length + size + 2 * BLOCK,
    async *chunks() {
      yield header;
      for (let left = size; left > 0; left -= CHUNK) yield left >= CHUNK ? DATA : DATA.subarray(0, left);
      yield Buffer.alloc(2 * BLOCK);
    },
  };
}

function ustarHeader(name, size, mtime) {
  const h = Buffer.alloc(BLOCK);
  const put = (offset, length, value) => h.write(value, offset, length, "latin1");
  const octal = (value, width) => `${value.toString(8).padStart(width - 1, "0")}\0`;
  put(0, 100, name);
  put(100, 8, octal(0o644, 8));
  put(108, 8, octal(0, 8)); // uid
  put(116, 8, octal(0, 8)); // gid
  put(124, 12, octal(size, 12));
  put(136, 12, octal(mtime, 12));
  put(148, 8, "        "); // checksum placeholder: spaces while summing
  put(156, 1, "0"); // regular file
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  let sum = 0;
  for (const byte of h) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function deterministicBytes(length) {
  const out = Buffer.alloc(length);
  for (let offset = 0, i = 0; offset < length; offset += 32, i++) {
    createHash("sha256").update(`powerstrip-bench-${i}`).digest().copy(out, offset);
  }
  return out;
}
