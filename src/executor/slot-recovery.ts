/**
 * At start-up: puts session files still sitting in slots left by a crashed predecessor back where
 * they belong, and removes those slots. Only for the data dir's owner (engine/data-dir-owner.ts):
 * to anyone else they are live work.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { Slot, type SessionPlaces } from './slot.js';

/** `placesOf` maps a session id to its files and home dirs (null: gone). */
export async function recoverSlots(
  slotsRoot: string,
  placesOf: (sessionId: string) => SessionPlaces | null,
  logger: Logger,
): Promise<void> {
  await fs.mkdir(slotsRoot, { recursive: true, mode: 0o711 });
  for (const name of await fs.readdir(slotsRoot)) {
    const slot = Slot.existing(path.join(slotsRoot, name));
    const owner = await slot.owner();
    const places = owner ? placesOf(owner) : null;
    if (places) {
      await slot.detach(places);
      logger.warn({ session: owner }, 'moved session files back from a slot left by a crash');
    }
    await slot.dispose();
  }
}
