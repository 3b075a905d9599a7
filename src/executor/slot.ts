/**
 * A slot is the host side of one container's mounts:
 *
 *   <slot>/data  → /mnt/data            (read-write)  the session's files, moved in for the run
 *   <slot>/home  → /home/sandbox        (read-write)  the session's $HOME, moved in the same way
 *   <slot>/in    → /run/codecell/in     (read-only)   the last snapshot, hard-linked in (its blobs in in/blobs/)
 *   <slot>/out   → /run/codecell/out    (read-write)  where the runner leaves the new snapshot (counts
 *                                                     against the session's quota, like data/)
 *   <slot>/owner                        (host only)   which session's files are inside, for crash recovery
 *
 * Warm containers are made before anyone knows which session they will serve, so their mounts
 * point at an empty slot; at hand-over the session's files are renamed into it (no copying, however
 * large), and renamed back once the container is dead. Nothing here follows a link the sandbox made.
 * The home goes back whatever the run's outcome, as the files do: what a failed run wrote is kept.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../errno.js';
import { removeTree } from '../files/remove-tree.js';
import { entryBytes } from '../files/usage.js';
import { SANDBOX_GID, SANDBOX_UID } from '../sandbox-user.js';
import { MAX_BLOB_LIST_BYTES, blobFolderOf, isBlobName, parseBlobList, planBlobs } from './snapshot-blobs.js';

const RUNNING_AS_ROOT = process.getuid?.() === 0;

/** Where a session keeps what a run works on, on the host (sessions/session-store.ts). */
export interface SessionPlaces {
  /** Its files: /mnt/data. */
  readonly filesDir: string;
  /** Its home: $HOME. */
  readonly homeDir: string;
}

export class Slot {
  private constructor(readonly root: string) {}

  get dataDir(): string {
    return path.join(this.root, 'data');
  }
  get homeDir(): string {
    return path.join(this.root, 'home');
  }
  get inDir(): string {
    return path.join(this.root, 'in');
  }
  get outDir(): string {
    return path.join(this.root, 'out');
  }
  private get ownerFile(): string {
    return path.join(this.root, 'owner');
  }

  static async create(slotsRoot: string): Promise<Slot> {
    const slot = new Slot(path.join(slotsRoot, randomBytes(12).toString('hex')));
    await fs.mkdir(slot.root, { recursive: true, mode: 0o711 });
    await fs.mkdir(slot.inDir, { mode: 0o755 });
    for (const dir of [slot.dataDir, slot.homeDir, slot.outDir]) {
      await fs.mkdir(dir, { mode: 0o755 });
      await sandboxOwns(dir);
    }
    return slot;
  }

  /** Opens a slot left behind by an earlier process (crash recovery). */
  static existing(root: string): Slot {
    return new Slot(root);
  }

  /** Moves the session's files and home in and links its snapshot. */
  async attach(sessionId: string, places: SessionPlaces, stateFile: string | null): Promise<boolean> {
    await fs.writeFile(this.ownerFile, sessionId, { mode: 0o600 });
    await moveEntries(places.filesDir, this.dataDir);
    // A session made before homes existed has none yet.
    await fs.mkdir(places.homeDir, { recursive: true, mode: 0o700 });
    await moveEntries(places.homeDir, this.homeDir);
    if (stateFile === null) return false;
    if (!(await linkOrCopy(stateFile, path.join(this.inDir, 'state')))) return false;
    const blobs = await blobsIn(blobFolderOf(stateFile));
    if (blobs.size > 0) {
      const inBlobs = path.join(this.inDir, 'blobs');
      await fs.mkdir(inBlobs, { mode: 0o755 });
      for (const name of blobs.keys()) await linkOrCopy(path.join(blobFolderOf(stateFile), name), path.join(inBlobs, name));
    }
    return true;
  }

  /** Moves the session's files and home back. Only call once no process can write to the slot any more. */
  async detach(places: SessionPlaces): Promise<void> {
    // Never through a link: only a real directory's entries are the session's (crash recovery reads
    // slots that something else on the host may have changed).
    if (await isDirectory(this.dataDir)) await moveEntries(this.dataDir, places.filesDir);
    // A slot left by a crash of a version without homes has none.
    if (await isDirectory(this.homeDir)) await moveEntries(this.homeDir, places.homeDir);
    await fs.rm(this.ownerFile, { force: true });
  }

  /** The session whose files are in this slot, if any (crash recovery). */
  async owner(): Promise<string | null> {
    try {
      return (await fs.readFile(this.ownerFile, 'utf8')).trim();
    } catch {
      return null;
    }
  }

  /**
   * Everything that counts against the session's quota while it runs here: its files, its home,
   * what the runner (or code in the sandbox) leaves in out/, and the session's snapshots
   * (`stateDir`; the one linked into in/ is one of them).
   */
  quotaDirs(stateDir: string): string[] {
    return [this.dataDir, this.homeDir, this.outDir, stateDir];
  }

  /** Where the runner leaves the new snapshot. */
  get newStateFile(): string {
    return path.join(this.outDir, 'state');
  }

  /** The runner's list of the blobs its new snapshot needs (snapshot-blobs.ts). */
  private get newBlobListFile(): string {
    return path.join(this.outDir, 'state.blobs');
  }

  private get newBlobsDir(): string {
    return path.join(this.outDir, 'blobs');
  }

  /**
   * Moves the runner's new snapshot to `target` (atomically replacing the old one), with its blobs
   * (snapshot-blobs.ts): the new ones moved in, the old ones it still needs left in place, the rest
   * removed once the new snapshot is in place. Only plain files are taken: a link the sandbox put
   * there is ignored. `fits` is asked first, with the bytes the new snapshot file adds (new blobs
   * already counted, being in out/) and the bytes the old snapshot file and its dropped blobs free:
   * a snapshot that would bring the session over its quota is not adopted (the session keeps the
   * old one). So is one whose list names blobs that are not there, or whose new files have more
   * than one name (hard links made in the sandbox).
   */
  async adoptState(
    target: string,
    fits: (newBytes: number, replacedBytes: number) => Promise<boolean>,
  ): Promise<'adopted' | 'none' | 'over-quota'> {
    const produced = await fs.lstat(this.newStateFile).catch(() => null);
    if (produced === null || !produced.isFile()) return 'none';
    const listed = await this.readBlobList();
    if (listed === null) return 'none';
    const folder = blobFolderOf(target);
    const plan = planBlobs(listed, await blobsIn(this.newBlobsDir), await blobsIn(folder));
    if (plan.invalid.length > 0) return 'none';
    // A runner writes each file once; a second name (a hard link made in the sandbox) would let the
    // quota credit one inode's bytes once per name when they are dropped or replaced later.
    if (produced.nlink !== 1 || (await anyHardLinked(this.newBlobsDir, plan.move))) return 'none';
    const replaced = await fs.lstat(target).catch(() => null);
    const replacedBytes = (replaced?.isFile() ? fileBytes(replaced) : 0) + plan.droppedBytes;
    if (!(await fits(fileBytes(produced), replacedBytes))) return 'over-quota';
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    if (plan.move.length > 0) await fs.mkdir(folder, { recursive: true, mode: 0o700 });
    for (const name of plan.move) await moveFile(path.join(this.newBlobsDir, name), path.join(folder, name));
    await moveFile(this.newStateFile, target); // the commit point
    for (const name of plan.drop) await fs.rm(path.join(folder, name), { force: true });
    if (listed.length === 0) await fs.rm(folder, { recursive: true, force: true });
    return 'adopted';
  }

  /** The runner's list, [] without one (a runner that writes one snapshot file), null when malformed. */
  private async readBlobList(): Promise<string[] | null> {
    const stat = await fs.lstat(this.newBlobListFile).catch(() => null);
    if (stat === null) return [];
    if (!stat.isFile() || stat.size > MAX_BLOB_LIST_BYTES) return null;
    return parseBlobList(await fs.readFile(this.newBlobListFile, 'latin1'));
  }

  async dispose(): Promise<void> {
    await removeTree(this.root); // the sandbox's tree may be deeper than any path can name
  }
}

/** Hard-links `from` to `to` (a copy across file systems); false when `from` does not exist. */
async function linkOrCopy(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    if (errnoOf(error) !== 'EXDEV') throw error;
    await fs.copyFile(from, to);
    return true;
  }
}

/** Renames `from` over `to`; across file systems a copy beside `to` first, then the atomic rename. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    if (errnoOf(error) !== 'EXDEV') throw error;
    const beside = `${to}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.copyFile(from, beside);
    await fs.rename(beside, to);
    await fs.rm(from, { force: true });
  }
}

/** The blob files in a folder (plain files with a blob's name only), with the bytes each takes. */
async function blobsIn(folder: string): Promise<Map<string, number>> {
  const blobs = new Map<string, number>();
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (!isBlobName(name)) continue;
    const stat = await fs.lstat(path.join(folder, name)).catch(() => null);
    if (stat?.isFile() === true) blobs.set(name, fileBytes(stat));
  }
  return blobs;
}

/** Whether any of the named files in `folder` has more than one name. */
async function anyHardLinked(folder: string, names: readonly string[]): Promise<boolean> {
  for (const name of names) {
    const stat = await fs.lstat(path.join(folder, name)).catch(() => null);
    if (stat === null || stat.nlink !== 1) return true;
  }
  return false;
}

/** A file's bytes as the quota counts them (files/usage.ts). */
function fileBytes(stat: { size: number; blocks: number }): number {
  return entryBytes('f', stat.size, stat.blocks);
}

async function moveEntries(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  // Names as bytes: the sandbox may make names that are not UTF-8, which a string would mangle
  // (the rename would fail, and every entry after it would stay behind in the slot and be lost).
  const fromPrefix = Buffer.from(`${from}${path.sep}`);
  const toPrefix = Buffer.from(`${to}${path.sep}`);
  for (const name of await fs.readdir(from, { encoding: 'buffer' })) {
    try {
      await fs.rename(Buffer.concat([fromPrefix, name]), Buffer.concat([toPrefix, name]));
    } catch (error) {
      if (errnoOf(error) !== 'EXDEV') throw error;
      // The data dir on a FUSE or network mount may refuse renames across its own directories.
      await copyEntriesAcross(from, to);
      return;
    }
  }
}

/**
 * Moves every entry still in `from` to `to` by copying, then empties `from`. GNU cp, because it walks
 * with directory fds at any depth, keeps names that are not UTF-8, and copies links as links.
 */
export async function copyEntriesAcross(from: string, to: string): Promise<void> {
  await runTool('cp', ['-a', '--no-dereference', '--', `${from}/.`, `${to}/`]);
  await runTool('find', [from, '-mindepth', '1', '-maxdepth', '1', '-exec', 'rm', '-rf', '--one-file-system', '--', '{}', '+']);
}

function runTool(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderrTail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderrTail = (stderrTail + chunk).slice(-500)));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} failed (${signal ?? `exit ${code}`}): ${stderrTail.trim()}`)),
    );
  });
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await fs.lstat(dir).catch(() => null))?.isDirectory() === true;
}

async function sandboxOwns(dir: string): Promise<void> {
  if (RUNNING_AS_ROOT) await fs.chown(dir, SANDBOX_UID, SANDBOX_GID);
  else await fs.chmod(dir, 0o777);
}
