/**
 * Keeps what a model needs of a long output: the head and the tail, and how much was cut between.
 * Memory stays bounded whatever the program prints.
 */
import type { CapturedText } from '../domain/types.js';

export class OutputCapture {
  private head = '';
  private tail = '';
  private totalChars = 0;
  private readonly headLimit: number;
  private readonly tailLimit: number;

  constructor(limitChars: number) {
    this.headLimit = Math.ceil(limitChars / 2);
    this.tailLimit = Math.floor(limitChars / 2);
  }

  append(text: string): void {
    this.totalChars += text.length;
    if (this.head.length < this.headLimit) {
      const room = this.headLimit - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (text.length === 0 || this.tailLimit === 0) return;
    this.tail += text;
    // Trim lazily: only when the tail has grown to twice its limit, so appends stay O(1) amortised.
    if (this.tail.length > this.tailLimit * 2) this.tail = this.tail.slice(-this.tailLimit);
  }

  result(): CapturedText {
    const tail = this.tail.slice(-this.tailLimit);
    const cut = this.totalChars - this.head.length - tail.length;
    if (cut <= 0) return { text: this.head + tail, truncatedChars: 0 };
    return {
      text: `${this.head}\n… [${cut} characters cut; the output was ${this.totalChars} characters] …\n${tail}`,
      truncatedChars: cut,
    };
  }
}
