/**
 * Splits a runner's stdout into user output and frames (images/PROTOCOL.md). A frame is
 * \x1e NONCE \x1f JSON \n and may start anywhere in the stream; everything else is user output.
 * Works on raw bytes so a marker or a UTF-8 character split across chunks is handled.
 */
import { FRAME_NONCE_END, FRAME_START } from './runner-protocol.js';

export interface FrameScannerEvents {
  onText(bytes: Buffer): void;
  onFrame(json: string): void;
  /** A frame grew past the cap: the run is to be stopped. */
  onOversizedFrame(): void;
}

export class FrameScanner {
  private marker: Buffer;
  private pending = Buffer.alloc(0);
  private frameParts: Buffer[] = [];
  private frameBytes = 0;
  private inFrame = false;

  constructor(
    nonce: string,
    private readonly maxFrameBytes: number,
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
        if (this.frameBytes > this.maxFrameBytes) {
          this.inFrame = false;
          this.frameParts = [];
          this.events.onOversizedFrame();
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
