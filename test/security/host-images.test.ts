/**
 * Images a run leaves in /mnt/data are decoded on the host (sharp/libvips) to downscale them for the
 * inline copy. Attacked from sandbox code: PNGs that are small files but huge once decoded, files
 * named .png that are links to host paths, fifos, not PNGs, or corrupt. None may leak a host byte,
 * hang the result, or take the host's memory; the server keeps answering while they are handled.
 * Also the result budget against crafted names (deep folded folders, deep images) and names the
 * listing cannot show, which must not vanish unsaid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LIMITS } from './helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, node: 1, bash: 1 } });
});

afterAll(async () => {
  await h?.close();
});

/** Python that writes an all-zero RGBA PNG of `side`×`side` (zeros deflate ~1000:1: a small file). */
const WRITE_ZERO_PNG = `
import struct, zlib
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
def zero_png(path, side, depth, interlace, tall=None):
    tall = tall or side
    pixel = 4 * depth // 8
    # Adam7: seven passes, each a smaller image with a filter byte per row; all bytes are zero.
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    raw = 0
    for x0, y0, dx, dy in passes:
        width, height = (side - x0 + dx - 1) // dx, (tall - y0 + dy - 1) // dy
        if width > 0 and height > 0:
            raw += height * (1 + width * pixel)
    packer, parts, block = zlib.compressobj(9), [], bytes(8 << 20)
    while raw > 0:
        parts.append(packer.compress(block[:min(raw, len(block))]))
        raw -= min(raw, len(block))
    parts.append(packer.flush())
    header = struct.pack('>IIBBBBB', side, tall, depth, 6, 0, 0, interlace)
    with open(path, 'wb') as out:
        out.write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header) + chunk(b'IDAT', b''.join(parts)) + chunk(b'IEND', b''))
`;

describe('PNGs decoded on the host', () => {
  it('does not decode an interlaced 16-bit 7000×7000 PNG (392 MB once decoded, <1 MB as a file); a fair interlaced one is still shown', async () => {
    const session = await h.newSession();
    const written = h.start(
      'python',
      `${WRITE_ZERO_PNG}
zero_png('bomb.png', 7000, 16, 1)
zero_png('fair.png', 3000, 8, 1)
import os
print(os.path.getsize('bomb.png') < 1_000_000, 'written')`,
      { session, timeout: h.budget(60) },
    );
    // The host reads and decodes after the run; meanwhile it answers health checks. They are asked
    // one after another until the result is in, so no ordering on the live output is needed (the
    // text is the program's last: its progress notification can reach the client with the result).
    const healthStatuses: number[] = [];
    const ended = written.result.then(() => undefined, () => undefined);
    while (!written.ended) {
      healthStatuses.push((await fetch(`${h.server.url}/healthz`)).status);
      // A pace, not an order: at most one check per 50 ms (each one pings the engine).
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    const out = await written.result;
    expect(healthStatuses.length).toBeGreaterThan(0);
    expect(new Set(healthStatuses)).toEqual(new Set([200]));
    expect(out.status, out.stderr).toBe('ok');
    expect(out.stdout).toBe('True written\n');
    expect(out.files.map((file) => [file.path, file.kind]).sort()).toEqual([
      ['bomb.png', 'file'],
      ['fair.png', 'file'],
    ]);
    // The fair one proves interlaced PNGs are decoded and downscaled; the bomb is only refused.
    expect(out.images.map((image) => [image.name, image.full_size?.width])).toEqual([['fair.png', 3000]]);
    expect(out.images_omitted).toBe(1);
    await h.stillServing();
  });

  it('shows nothing of links to host paths, fifos, non-PNGs or corrupt PNGs named .png, and the run ends', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      `import os, struct, zlib
os.symlink('/etc/shadow', 'shadow.png')
os.symlink('/proc/1/root/etc/passwd', 'passwd.png')
os.symlink('/data/sessions', 'dir.png')
os.mkfifo('fifo.png')
open('text.png', 'w').write('root:x:0:0:root:/root:/bin/bash\\n')
header = struct.pack('>IIBBBBB', 5000, 5000, 8, 6, 0, 0, 0)
crc = lambda data: struct.pack('>I', zlib.crc32(data) & 0xffffffff)
# A valid header over an IDAT cut short: the host must try to decode it (5000 px is over the inline side).
with open('cut.png', 'wb') as out:
    out.write(b'\\x89PNG\\r\\n\\x1a\\n' + struct.pack('>I', 13) + b'IHDR' + header + crc(b'IHDR' + header))
    body = zlib.compress(bytes(100_000))
    out.write(struct.pack('>I', len(body)) + b'IDAT' + body + crc(b'IDAT' + body))
print(sorted(os.listdir('.')))`,
      { session },
    );
    expect(out.status, out.stderr).toBe('ok');
    expect(out.stdout).toContain("'cut.png'");
    expect(out.images).toEqual([]);
    const listed = new Map(out.files.map((file) => [file.path, file]));
    for (const link of ['shadow.png', 'passwd.png', 'dir.png']) {
      expect(listed.get(link)?.kind, link).toBe('symlink');
      expect(listed.get(link)?.download_url, link).toBeNull();
    }
    expect(listed.get('cut.png')?.kind).toBe('file');
    expect(listed.get('text.png')?.kind).toBe('file');
    // Not a byte of a host file anywhere in the result.
    expect(JSON.stringify(out)).not.toMatch(/root:[x*!]/);
    await h.stillServing();
  });
});

describe('the result budget (CODECELL_MAX_RESULT_CHARS, 24,000 by default) against crafted file names', () => {
  it('keeps a result within budget when folded folders (.git/) sit under the longest paths allowed', async () => {
    const session = await h.newSession();
    // Ten .git folders, each ~1,000 characters deep in names of quotes (escaped as \\" in JSON: twice
    // the characters). Folded groups name their folder, and no budget step cut them.
    const { raw, out } = await h.runToEnd(
      'python',
      `import os
for index in range(10):
    folder = os.path.join(*[f'{index}-{depth}' + '"' * 240 for depth in range(4)], '.git')
    os.makedirs(folder)
    open(os.path.join(folder, 'HEAD'), 'w').write('ref')
print(len(folder))
print('made')`,
      'made',
      { session },
    );
    expect(out.status, out.stderr).toBe('ok');
    expect(out.stdout).toMatch(/^9\d\d\nmade\n$/);
    expect(out.files_total).toBe(10);
    const text = raw.content.filter((item) => item.type === 'text').map((item) => (item.type === 'text' ? item.text : '')).join('');
    const total = text.length + JSON.stringify(raw.structuredContent).length;
    expect(total).toBeLessThanOrEqual(24_000);
    // Still counted: ten HEAD files in git repositories.
    expect(out.files_unlisted.folded.reduce((sum, group) => sum + group.files, 0)).toBe(10);
    await h.stillServing();
  });

  it('keeps a result within budget when every shown image lies ~1,000 characters deep', async () => {
    const session = await h.newSession();
    // Each saved PNG is over the inline side, so it is downscaled and named twice in the text
    // (name and full-size path) and twice in structuredContent, quotes escaped there.
    const { raw, out } = await h.runToEnd(
      'python',
      `${WRITE_ZERO_PNG}
import os
for index in range(${LIMITS.maxImages}):
    folder = os.path.join(*[f'{index}-{depth}' + '"' * 240 for depth in range(4)])
    os.makedirs(folder)
    # Each of another shape, so that no two inline copies are the same picture (those are sent once).
    zero_png(os.path.join(folder, 'p.png'), 2100, 8, 0, 100 + 50 * index)
print('made')`,
      'made',
      { session, timeout: h.budget(30) },
    );
    expect(out.status, out.stderr).toBe('ok');
    expect(out.images).toHaveLength(LIMITS.maxImages);
    expect(out.images.every((image) => (image.full_size?.width ?? 0) >= 2100 && image.width < 2100)).toBe(true);
    const text = raw.content.filter((item) => item.type === 'text').map((item) => (item.type === 'text' ? item.text : '')).join('');
    expect(text.length + JSON.stringify(raw.structuredContent).length).toBeLessThanOrEqual(24_000);
    await h.stillServing();
  });

  it('says so when a run made files whose names cannot be listed (control characters), instead of hiding them', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      `import os
open('seen.txt', 'w').write('seen')
open('hidden\\nname.txt', 'w').write('x' * 1000)
os.makedirs('\\x01folder/deeper')
for index in range(50):
    open(f'\\x01folder/deeper/{index}.bin', 'wb').write(os.urandom(1000))
print(sorted(os.listdir('.')))`,
      { session },
    );
    expect(out.status, out.stderr).toBe('ok');
    expect(out.stdout).toContain("'hidden\\nname.txt'");
    expect(out.files.map((file) => file.path)).toEqual(['seen.txt']);
    // The reader learns that something was made that the listing cannot show.
    expect(out.notice ?? '').toMatch(/cannot be listed/);
    await h.stillServing();
  });
});

describe('full-size copies the host writes', () => {
  it('does not let shown figures kept in full grow a session past its quota, run after run', async () => {
    const session = await h.newSession();
    // Each run shows a noise PNG of ~9 MB (over the inline budget: the host keeps it in full).
    const code = `import os, zlib, struct
from IPython.display import Image, display
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
side = 1500
raw = b''.join(b'\\0' + os.urandom(side * 4) for _ in range(side))
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 6, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw, 1)) + chunk(b'IEND', b'')
display(Image(data=png))
print(len(png) // 1_000_000)
print('shown')`;
    const sizes: number[] = [];
    for (let run = 0; run < 3; run += 1) {
      const { out } = await h.runToEnd('python', code, 'shown', { session, timeout: h.budget(30) });
      // The third run's image, while it is made, brings the session past its quota just as its copy
      // would: the quota watchdog may stop that run first (killed), or the host declines the copy (ok).
      if (run < 2) expect(out.status, out.stderr).toBe('ok');
      else expect(['ok', 'killed'], out.stderr).toContain(out.status);
      expect(out.stdout).toContain('9\n');
      const used = await h.probe<{ bytes: number }>(
        'python',
        "import os, json\nprint(json.dumps({'bytes': sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)}))",
        { session },
      );
      sizes.push(used.bytes);
    }
    // Two copies fit the 20 MiB quota, a third does not: it is not written (before: 27 MB and on).
    expect(sizes, JSON.stringify(sizes)).toEqual([sizes[0], 2 * sizes[0]!, 2 * sizes[0]!]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(LIMITS.quotaMb * 1024 * 1024);
    await h.stillServing();
  });
});
