/** Decodes one output stream of a run (UTF-8 split across chunks is fine), caps it, and streams it live. */
import type { CapturedText, OutputChunk } from '../domain/types.js';
import { OutputCapture } from './output-capture.js';

export class StreamText {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly capture: OutputCapture;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    limitChars: number,
    private readonly onOutput: ((chunk: OutputChunk) => void) | undefined,
  ) {
    this.capture = new OutputCapture(limitChars);
  }

  push(bytes: Buffer): void {
    this.add(this.decoder.decode(bytes, { stream: true }));
  }

  finish(): CapturedText {
    this.add(this.decoder.decode());
    return this.capture.result();
  }

  private add(text: string): void {
    if (text.length === 0) return;
    this.capture.append(text);
    this.onOutput?.({ stream: this.stream, text });
  }
}
