/**
 * Splits a runner's stdout into user output and frames (images/PROTOCOL.md). A frame is
 * \x1e NONCE \x1f JSON \n and may start anywhere in the stream; everything else is user output.
 * Works on raw bytes so a marker or a UTF-8 character split across chunks is handled.
 */
import { FRAME_NONCE_END, FRAME_START } from './runner-protocol.js';

export interface FrameScannerEvents {
  onText(bytes: Buffer): void;
  onFrame(json: string): void;
  /** A frame grew past a cap (bytes, or JSON values outside strings): the run is to be stopped. */
  onOversizedFrame(what: string): void;
}

export interface FrameLimits {
  /** Bytes of one frame's JSON. */
  readonly maxBytes: number;
  /** `{`, `[`, `,` and `:` outside strings: every JSON value but the first follows one, so this bounds parse work. */
  readonly maxStructure: number;
}

export class FrameScanner {
  private marker: Buffer;
  private pending = Buffer.alloc(0);
  private frameParts: Buffer[] = [];
  private frameBytes = 0;
  private inFrame = false;
  private readonly structure = new StructureCounter();

  constructor(
    nonce: string,
    private readonly limits: FrameLimits,
    private readonly events: FrameScannerEvents,
  ) {
    this.marker = markerFor(nonce);
  }

  /** Frames after this point must carry `nonce` (the ready frame and the result use different ones). */
  expectNonce(nonce: string): void {
    this.marker = markerFor(nonce);
  }

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.inFrame) {
        const end = data.indexOf(0x0a);
        const part = end === -1 ? data : data.subarray(0, end);
        this.frameBytes += part.length;
        const over =
          this.frameBytes > this.limits.maxBytes
            ? `over ${this.limits.maxBytes} bytes`
            : this.structure.count(part) > this.limits.maxStructure
              ? `over ${this.limits.maxStructure} JSON values`
              : null;
        if (over !== null) {
          this.inFrame = false;
          this.frameParts = [];
          this.events.onOversizedFrame(over);
          return;
        }
        this.frameParts.push(part);
        if (end === -1) return;
        const json = Buffer.concat(this.frameParts).toString('utf8');
        this.inFrame = false;
        this.frameParts = [];
        this.frameBytes = 0;
        this.events.onFrame(json);
        data = data.subarray(end + 1);
        continue;
      }
      const at = data.indexOf(this.marker);
      if (at !== -1) {
        if (at > 0) this.events.onText(data.subarray(0, at));
        this.inFrame = true;
        this.structure.reset();
        data = data.subarray(at + this.marker.length);
        continue;
      }
      // Hold back a possible start of the marker at the end of the chunk.
      const keep = possibleMarkerPrefix(data, this.marker);
      if (data.length > keep) this.events.onText(data.subarray(0, data.length - keep));
      this.pending = Buffer.from(data.subarray(data.length - keep));
      return;
    }
  }

  /** End of stream: whatever was held back is user output. */
  flush(): void {
    if (!this.inFrame && this.pending.length > 0) this.events.onText(this.pending);
    this.pending = Buffer.alloc(0);
  }
}

/**
 * Counts JSON's structural bytes outside strings as a frame streams in. Hand-written: JSON.parse of
 * millions of tiny values blocks the event loop for seconds, so a frame is judged before parsing.
 */
class StructureCounter {
  private inString = false;
  private escaped = false;
  private total = 0;

  reset(): void {
    this.inString = false;
    this.escaped = false;
    this.total = 0;
  }

  /** Adds `bytes` (the next part of a frame) and returns the count so far. */
  count(bytes: Buffer): number {
    let index = 0;
    // Next quote/backslash at or after `index`, remembered so short strings do not rescan the part.
    let quote = -2;
    let backslash = -2;
    while (index < bytes.length) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          index += 1;
          continue;
        }
        // Long strings (base64 images) are skipped natively up to the next quote or backslash.
        if (quote !== -1 && quote < index) quote = bytes.indexOf(0x22, index);
        if (backslash !== -1 && backslash < index) backslash = bytes.indexOf(0x5c, index);
        const stop = quote === -1 ? backslash : backslash === -1 ? quote : Math.min(quote, backslash);
        if (stop === -1) return this.total;
        if (bytes[stop] === 0x5c) this.escaped = true;
        else this.inString = false;
        index = stop + 1;
        continue;
      }
      const byte = bytes[index]!;
      if (byte === 0x22) this.inString = true;
      else if (byte === 0x7b || byte === 0x5b || byte === 0x2c || byte === 0x3a) this.total += 1;
      index += 1;
    }
    return this.total;
  }
}

function markerFor(nonce: string): Buffer {
  return Buffer.from(`${FRAME_START}${nonce}${FRAME_NONCE_END}`, 'utf8');
}

/** Length of the longest suffix of `data` that is a prefix of `marker`. */
function possibleMarkerPrefix(data: Buffer, marker: Buffer): number {
  const max = Math.min(marker.length - 1, data.length);
  for (let length = max; length > 0; length -= 1) {
    if (data.subarray(data.length - length).equals(marker.subarray(0, length))) return length;
  }
  return 0;
}
