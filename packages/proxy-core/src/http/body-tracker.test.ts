import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProxyErrorCode } from "../errors.js";
import { trackBody } from "./body-tracker.js";

const bytes = (text: string) => Buffer.from(text, "latin1");

/** Feeds `input` in the given pieces; returns how many bytes were taken as body. */
function feed(framing: Parameters<typeof trackBody>[0], pieces: Buffer[]) {
  const tracker = trackBody(framing);
  let taken = 0;
  for (const piece of pieces) {
    if (tracker.done) break;
    taken += tracker.consume(piece, 0);
  }
  return { taken, done: tracker.done };
}

function encodeChunked(chunks: Buffer[], trailers: string[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    parts.push(bytes(`${chunk.length.toString(16)}\r\n`), chunk, bytes("\r\n"));
  }
  parts.push(bytes(`0\r\n${trailers.map((t) => `${t}\r\n`).join("")}\r\n`));
  return Buffer.concat(parts);
}

/** Cuts a buffer at the given (sorted, deduplicated) offsets. */
function split(buffer: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buffer.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of points) {
    pieces.push(buffer.subarray(from, at));
    from = at;
  }
  pieces.push(buffer.subarray(from));
  return pieces;
}

describe("length bodies", () => {
  it("takes exactly the length and leaves the rest", () => {
    const tracker = trackBody({ kind: "length", length: 5 });
    expect(tracker.consume(bytes("abc"), 0)).toBe(3);
    expect(tracker.done).toBe(false);
    expect(tracker.consume(bytes("deGET /"), 0)).toBe(2);
    expect(tracker.done).toBe(true);
  });

  it("a none body is done at once", () => {
    expect(trackBody({ kind: "none" }).done).toBe(true);
  });

  it("a body framed by close takes everything and never ends on its own", () => {
    const tracker = trackBody({ kind: "close" });
    expect(tracker.consume(bytes("abc"), 1)).toBe(2);
    expect(tracker.done).toBe(false);
    expect(tracker.endsAtClose).toBe(true);
  });
});

describe("chunked bodies", () => {
  it("finds the end of a body with extensions and trailers, and not a byte further", () => {
    const body = bytes("4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n");
    const tracker = trackBody({ kind: "chunked" });
    expect(tracker.consume(Buffer.concat([body, bytes("GET / HTTP/1.1")]), 0)).toBe(body.length);
    expect(tracker.done).toBe(true);
  });

  it("ends wherever the stream is split (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (chunks, cuts, withTrailer) => {
          const encoded = encodeChunked(
            chunks.map((c) => Buffer.from(c)),
            withTrailer ? ["X-T: v"] : [],
          );
          const next = bytes("NEXT");
          const { taken, done } = feed({ kind: "chunked" }, split(Buffer.concat([encoded, next]), cuts));
          expect(done).toBe(true);
          expect(taken).toBe(encoded.length);
        },
      ),
    );
  });

  it("hands out the payload without the chunk framing (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (chunks, cuts) => {
          const payload = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          const tracker = trackBody({ kind: "chunked" });
          const got: Buffer[] = [];
          for (const piece of split(encodeChunked(chunks.map((c) => Buffer.from(c))), cuts)) {
            tracker.consume(piece, 0, (buf, start, end) => got.push(Buffer.from(buf.subarray(start, end))));
          }
          expect(Buffer.concat(got).equals(payload)).toBe(true);
        },
      ),
    );
  });

  it("is not done until the final CRLF arrives", () => {
    const tracker = trackBody({ kind: "chunked" });
    tracker.consume(bytes("3\r\nabc\r\n0\r\n"), 0);
    expect(tracker.done).toBe(false);
    tracker.consume(bytes("\r\n"), 0);
    expect(tracker.done).toBe(true);
  });

  it.each([
    ["a missing size", "\r\n"],
    ["a non-hex size", "g\r\n"],
    ["a bare LF after the size", "3\nabc\r\n0\r\n\r\n"],
    ["data longer than its size", "3\r\nabcd\r\n0\r\n\r\n"],
    ["a bare LF in an extension", "3;a\nabc\r\n"],
    ["a size too large to count", "fffffffffffffff\r\n"],
    ["a bare LF in a trailer", "0\r\nX: 1\n\r\n"],
  ])("refuses %s", (_, text) => {
    const tracker = trackBody({ kind: "chunked" });
    expect(() => tracker.consume(bytes(text), 0)).toThrowError(
      expect.objectContaining({ code: ProxyErrorCode.BadRequest }),
    );
  });

  it("refuses an endless extension line", () => {
    const tracker = trackBody({ kind: "chunked" });
    expect(() => tracker.consume(bytes(`1;${"a".repeat(9000)}`), 0)).toThrow(/too long/);
  });
});
