import { ProxyError, ProxyErrorCode } from "../errors.js";
import type { Framing } from "./framing.js";

/**
 * Follows a body as its bytes pass, without copying them, to tell where it ends. The bytes are
 * forwarded exactly as received; only chunk-size lines are read.
 */
export interface BodyTracker {
  /**
   * How many bytes of `buf[start..]` belong to the body; once it returns short, `done` is true.
   * `onData`, when given, receives the body's payload ranges (chunk framing removed).
   */
  consume(buf: Buffer, start: number, onData?: PayloadSink): number;
  readonly done: boolean;
  /** True for a response body that only the connection closing ends. */
  readonly endsAtClose: boolean;
}

/** Receives `buf[start..end)`, a piece of a body's payload. */
export type PayloadSink = (buf: Buffer, start: number, end: number) => void;

export function trackBody(framing: Framing): BodyTracker {
  switch (framing.kind) {
    case "none":
      return new LengthTracker(0);
    case "length":
      return new LengthTracker(framing.length);
    case "chunked":
      return new ChunkedTracker();
    case "close":
      return new UntilCloseTracker();
  }
}

class LengthTracker implements BodyTracker {
  readonly endsAtClose = false;

  constructor(private remaining: number) {}

  get done(): boolean {
    return this.remaining === 0;
  }

  consume(buf: Buffer, start: number, onData?: PayloadSink): number {
    const taken = Math.min(this.remaining, buf.length - start);
    this.remaining -= taken;
    if (onData && taken > 0) onData(buf, start, start + taken);
    return taken;
  }
}

class UntilCloseTracker implements BodyTracker {
  readonly done = false;
  readonly endsAtClose = true;

  consume(buf: Buffer, start: number, onData?: PayloadSink): number {
    if (onData && buf.length > start) onData(buf, start, buf.length);
    return buf.length - start;
  }
}

enum ChunkState {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** 2^52: chunk sizes past this cannot be counted exactly in a double. */
const MAX_CHUNK_SIZE_DIGITS = 13;
const MAX_LINE_BYTES = 8 * 1024;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function malformed(message: string): ProxyError {
  return new ProxyError(ProxyErrorCode.BadRequest, `malformed chunked body: ${message}`);
}

/** RFC 9112 §7.1 chunked coding, strict: CRLF only, hex sizes, bounded extension and trailer lines. */
class ChunkedTracker implements BodyTracker {
  readonly endsAtClose = false;
  private state = ChunkState.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private lineBytes = 0;

  get done(): boolean {
    return this.state === ChunkState.Done;
  }

  consume(buf: Buffer, start: number, onData?: PayloadSink): number {
    let i = start;
    const end = buf.length;
    while (i < end && this.state !== ChunkState.Done) {
      if (this.state === ChunkState.Data) {
        // The hot case: skip over chunk data without looking at it.
        const taken = Math.min(this.remaining, end - i);
        this.remaining -= taken;
        if (onData && taken > 0) onData(buf, i, i + taken);
        i += taken;
        if (this.remaining === 0) this.state = ChunkState.DataCr;
        continue;
      }
      this.step(buf[i]!);
      i++;
    }
    return i - start;
  }

  private step(c: number): void {
    switch (this.state) {
      case ChunkState.Size: {
        const v = hexValue(c);
        if (v >= 0) {
          if (++this.digits > MAX_CHUNK_SIZE_DIGITS) throw malformed("chunk size too large");
          this.size = this.size * 16 + v;
          return;
        }
        if (this.digits === 0) throw malformed("missing chunk size");
        if (c === CR) this.state = ChunkState.SizeLf;
        else if (c === 0x3b || c === 0x20 || c === 0x09) this.enterLine(ChunkState.Extension);
        else throw malformed("invalid character in chunk size");
        return;
      }
      case ChunkState.Extension:
        if (c === CR) this.state = ChunkState.SizeLf;
        else if (c === LF) throw malformed("bare LF in chunk extension");
        else this.countLineByte();
        return;
      case ChunkState.SizeLf:
        if (c !== LF) throw malformed("expected LF after chunk size");
        if (this.size === 0) {
          this.state = ChunkState.TrailerStart;
        } else {
          this.remaining = this.size;
          this.state = ChunkState.Data;
        }
        this.size = 0;
        this.digits = 0;
        return;
      case ChunkState.DataCr:
        if (c !== CR) throw malformed("expected CRLF after chunk data");
        this.state = ChunkState.DataLf;
        return;
      case ChunkState.DataLf:
        if (c !== LF) throw malformed("expected CRLF after chunk data");
        this.state = ChunkState.Size;
        return;
      case ChunkState.TrailerStart:
        if (c === CR) this.state = ChunkState.FinalLf;
        else if (c === LF) throw malformed("bare LF in trailer");
        else this.enterLine(ChunkState.TrailerLine);
        return;
      case ChunkState.TrailerLine:
        if (c === CR) this.state = ChunkState.TrailerLf;
        else if (c === LF) throw malformed("bare LF in trailer");
        else this.countLineByte();
        return;
      case ChunkState.TrailerLf:
        if (c !== LF) throw malformed("expected LF after trailer line");
        this.state = ChunkState.TrailerStart;
        return;
      case ChunkState.FinalLf:
        if (c !== LF) throw malformed("expected LF at the end of the body");
        this.state = ChunkState.Done;
        return;
      default:
        throw malformed("unexpected state");
    }
  }

  private enterLine(state: ChunkState): void {
    this.state = state;
    this.lineBytes = 1;
  }

  private countLineByte(): void {
    if (++this.lineBytes > MAX_LINE_BYTES) throw malformed("chunk extension or trailer line too long");
  }
}
