/**
 * Splits a TCP byte stream into Kafka frames (int32 size prefix, then that many bytes).
 * Sans-I/O: feed it chunks, take whole frames out.
 */

/** Raised for a size prefix that no valid request can have; the connection is closed. */
export class FrameSizeError extends Error {
  override name = 'FrameSizeError';
}

/** The smallest request: api key, api version and correlation id. */
export const MIN_REQUEST_BYTES = 8;

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly minFrameBytes = MIN_REQUEST_BYTES,
  ) {}

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns every frame it completes (payloads without the size prefix). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      if (size < this.minFrameBytes) {
        throw new FrameSizeError(`frame size ${size} is below the ${this.minFrameBytes}-byte minimum`);
      }
      if (size > this.maxFrameBytes) {
        throw new FrameSizeError(
          `frame size ${size} exceeds socket.request.max.bytes (${this.maxFrameBytes})`,
        );
      }
      if (this.buffered < 4 + size) break;
      const frame = this.take(4 + size);
      frames.push(frame.subarray(4));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let whole: Buffer;
    if (first.length >= n) {
      whole = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks);
      whole = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return whole;
  }
}
