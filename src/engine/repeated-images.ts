import type { ResultImage } from './types.js';

/**
 * Saved images whose inline copy is the same picture as one already shown (display(img) of a
 * file the run also wrote): sending it twice costs the chat twice and tells nothing new.
 */
export function withoutRepeatedImages(shown: readonly ResultImage[], saved: readonly ResultImage[]): ResultImage[] {
  const seen = new Set(shown.map((image) => image.base64));
  return saved.filter((image) => {
    if (seen.has(image.base64)) return false;
    seen.add(image.base64);
    return true;
  });
}
