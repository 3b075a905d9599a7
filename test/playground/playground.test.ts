/**
 * The browser playground in real Chromium (Debian's `chromium`, driven by playwright-core) against
 * the built CLI serving on loopback with an API key: key entry, plots, tables, uploads, downloads,
 * per-session state, sandboxed HTML output, and that the page talks to no other origin. Leaves a
 * screenshot and the page's transfer size and load time in test-artifacts/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import { TEST_IMAGES } from '../helpers/engine.js';
import { listeningUrl } from '../interfaces/helpers/server-process.js';

const CLI = path.resolve('dist/src/cli.js');
const ARTIFACTS = path.resolve('test-artifacts');
const KEY = `playground-key-${randomBytes(12).toString('hex')}`;
const CHROMIUM = process.env.CODECELL_CHROMIUM ?? '/usr/bin/chromium';

let dataDir: string;
let server: ChildProcess;
let origin: string;
let browser: Browser;
let page: Page;
const requested: string[] = [];
/** Errors the page (not the sandboxed HTML frame) logs, such as Content-Security-Policy violations. */
const pageErrors: string[] = [];

/** Puts `code` in the editor (typed as one insertion, so no auto-indent), runs it, waits for the result. */
async function run(code: string, language = 'python'): Promise<void> {
  const finished = await startRun(code, language);
  await page.waitForSelector(finished);
}

/** Starts a run; returns the selector that matches once it has finished. */
async function startRun(code: string, language = 'python'): Promise<string> {
  await page.selectOption('#language', language);
  const before = Number((await page.getAttribute('#output', 'data-run')) ?? '0');
  await page.click('.cm-content');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
  await page.keyboard.press('ControlOrMeta+Enter');
  return `#output[data-run="${before + 1}"]`;
}

async function outputText(): Promise<string> {
  return (await page.textContent('#output')) ?? '';
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} missing: scripts/ensure-chromium.sh installs it`).toBe(true);
  spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  await buildWeb();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-playground-'));
  server = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      CODECELL_DATA_DIR: dataDir,
      CODECELL_API_KEYS: KEY,
      CODECELL_POOL_PYTHON: '1',
      CODECELL_POOL_PYTHON_LEAN: '0',
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
      ...TEST_IMAGES,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  origin = new URL(await listeningUrl(server)).origin;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  context.on('request', (request) => requested.push(request.url()));
  page = await context.newPage();
  // The machine may be shared and slow: waits are for signals, so a generous bound costs nothing when all is well.
  page.setDefaultTimeout(90_000);
  page.on('console', (message) => {
    // The sandboxed frame's own refusals (its fetch blocked by connect-src 'none') are expected; they do not come from the page's files.
    const from = message.location().url;
    if (message.type() === 'error' && from.startsWith(`${origin}/`) && !from.includes('/playground/frame.html')) pageErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await context.addInitScript(() => {
    if (window.top !== window) return;
    const seen: string[] = [];
    Object.assign(window, { cspViolations: seen });
    document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('playground in Chromium', { timeout: 300_000 }, () => {
  it('serves the page with a strict Content-Security-Policy', async () => {
    const response = await fetch(`${origin}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const frame = await fetch(`${origin}/playground/frame.html`);
    expect(frame.headers.get('content-security-policy')).toMatch(/^sandbox allow-scripts;.*connect-src 'none'/);
  });

  it('asks for the key once, refuses a wrong one, keeps the right one in sessionStorage only', async () => {
    await page.goto(`${origin}/`);
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', 'not-the-key');
    await page.click('#key-submit');
    await page.waitForSelector('#key-error:not([hidden])');
    expect(await page.textContent('#key-error')).toContain('refused');
    await page.fill('#key-input', KEY);
    await page.click('#key-submit');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.evaluate(() => sessionStorage.getItem('codecell.apiKey'))).toBe(KEY);
    const languages = await page.$$eval('#language option', (options) => options.map((option) => (option as HTMLOptionElement).value));
    expect(languages.slice(0, 4)).toEqual(['python', 'javascript', 'typescript', 'bash']);
    // A reload finds the key in sessionStorage and asks nothing.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.isVisible('#key-dialog')).toBe(false);
  });

  it('runs Python that prints and plots: text and an inline image', async () => {
    await run(
      [
        'import matplotlib.pyplot as plt',
        'plt.plot([0, 1, 2, 3], [1, 4, 9, 16])',
        'print("sum of squares", sum(i * i for i in range(10)))',
        'plt.show()',
      ].join('\n'),
    );
    expect(await page.textContent('#output pre.stdout')).toContain('sum of squares 285');
    const image = await page.waitForSelector('#output img[src^="data:image/png;base64,"]');
    expect(await image.evaluate((node) => (node as HTMLImageElement).naturalWidth)).toBeGreaterThan(100);
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
  });

  it('shows stderr apart from stdout and highlights a traceback', async () => {
    await run(['import sys', 'print("to out")', 'print("to err", file=sys.stderr)', '1 / 0'].join('\n'));
    expect(await page.textContent('#output pre.stdout')).toContain('to out');
    expect(await page.textContent('#output pre.stderr')).toContain('to err');
    expect(await page.textContent('#output pre.traceback .error-line')).toContain('ZeroDivisionError');
  });

  it('streams stdout and stderr live, told apart, and stops a run on request', async () => {
    const finished = await startRun(
      ['import sys, time', 'print("live out", flush=True)', 'print("live err", file=sys.stderr, flush=True)', 'while True: time.sleep(0.05)'].join('\n'),
    );
    // Each stream's text, joined over its blocks: stdout's newline may arrive after stderr's line (two pipes).
    const streamed = (stream: string): Promise<string> =>
      page.$$eval(`#output pre.stream-${stream}`, (blocks) => blocks.map((block) => block.textContent ?? '').join(''));
    await page.waitForFunction(() => {
      const joined = (stream: string): string => [...document.querySelectorAll(`#output[data-state="running"] pre.stream-${stream}`)].map((block) => block.textContent ?? '').join('');
      return joined('stdout') === 'live out\n' && joined('stderr') === 'live err\n';
    });
    await page.click('#stop');
    await page.waitForSelector(finished);
    expect(await outputText()).toContain('Stopped');
    // What the run printed before it was stopped stays on screen.
    expect(await streamed('stdout')).toBe('live out\n');
    expect(await streamed('stderr')).toBe('live err\n');
    // The session survives a stopped run.
    await run('print(6 * 7)');
    expect(await page.textContent('#output pre.stdout')).toContain('42');
  });

  it('shows a DataFrame as a table', async () => {
    await run(['import pandas as pd', 'pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [4.5, 19.25]})'].join('\n'));
    const table = await page.waitForSelector('#output table.frame');
    const headers = await table.$$eval('thead th', (cells) => cells.map((cell) => cell.textContent));
    expect(headers.filter((header) => header !== '')).toEqual(['city', 'temp']);
    const cells = await table.$$eval('tbody td', (nodes) => nodes.map((node) => node.textContent));
    expect(cells).toEqual(['Oslo', '4.5', 'Lima', '19.25']);
    // Floats read as pandas prints them; the exact value is the cell's tooltip.
    await run(['import pandas as pd', 'pd.DataFrame({"ratio": [0.1 + 0.2, 2 / 3]})'].join('\n'));
    const ratios = await page.$$eval('#output table.frame tbody td', (nodes) => nodes.map((node) => [node.textContent, node.getAttribute('title')]));
    expect(ratios).toEqual([
      ['0.3', '0.30000000000000004'],
      ['0.666667', '0.6666666666666666'],
    ]);
  });

  it('shows a display()ed table once, in its place in stdout: text before, the table, text after', async () => {
    await run(
      [
        'import pandas as pd',
        'from IPython.display import display',
        'print("before the table")',
        'display(pd.DataFrame({"city": ["Oslo", "Zürich 😀"], "temp": [3.5, 19.5]}))',
        'print("after the table")',
      ].join('\n'),
    );
    await page.waitForSelector('#output table.frame');
    // Direct children of the output, in order: what they are and their text.
    const blocks = await page.$$eval('#output > *', (nodes) =>
      nodes.map((node) => [node.matches('pre.stdout') ? 'stdout' : node.querySelector('table.frame') ? 'table' : node.tagName.toLowerCase(), node.textContent]),
    );
    const shown = blocks.filter(([kind]) => kind === 'stdout' || kind === 'table');
    expect(shown.map(([kind]) => kind)).toEqual(['stdout', 'table', 'stdout']);
    expect(shown[0]![1]).toBe('before the table\n');
    expect(shown[2]![1]).toBe('after the table\n');
    expect(await page.$$eval('#output table.frame tbody td', (cells) => cells.map((cell) => cell.textContent))).toEqual(['Oslo', '3.5', 'Zürich 😀', '19.5']);
    // The table's text is not shown a second time.
    expect(await page.$$eval('#output pre', (nodes) => nodes.some((node) => node.textContent?.includes('Oslo')))).toBe(false);
  });

  it('names the index of a grouped table: "region" in its own header row', async () => {
    await run(
      [
        'import pandas as pd',
        'sales = pd.DataFrame({"region": ["north", "south", "north"], "amount": [3, 5, 4]})',
        'sales.groupby("region")[["amount"]].sum()',
      ].join('\n'),
    );
    const table = await page.waitForSelector('#output table.frame');
    const headRows = await table.$$eval('thead tr', (rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent)));
    expect(headRows).toEqual([
      ['', 'amount'],
      ['region', ''],
    ]);
    expect(await table.$$eval('tbody th', (cells) => cells.map((cell) => cell.textContent))).toEqual(['north', 'south']);
  });

  it('uploads a CSV through the file input and reads it from code', async () => {
    const csv = 'x,y\n1,10\n2,20\n3,30\n';
    await page.setInputFiles('#file-input', { name: 'points.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForSelector('#files li[data-path="points.csv"]');
    await run(['import pandas as pd', 'frame = pd.read_csv("points.csv")', 'print("total", int(frame.x.sum() + frame.y.sum()))'].join('\n'));
    expect(await page.textContent('#output pre.stdout')).toContain('total 66');
  });

  it('uploads several files at once, by file input and by drag and drop', async () => {
    await page.setInputFiles('#file-input', [
      { name: 'one.txt', mimeType: 'text/plain', buffer: Buffer.from('first file\n') },
      { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('second file\n') },
    ]);
    await page.waitForSelector('#files li[data-path="two.txt"]');
    await page.waitForSelector('#files li[data-path="one.txt"]');
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped a\n'], 'drop-a.txt', { type: 'text/plain' }));
      transfer.items.add(new File(['dropped b\n'], 'drop-b.txt', { type: 'text/plain' }));
      return transfer;
    });
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dropped });
    await page.waitForSelector('#files li[data-path="drop-b.txt"]');
    await run('print(open("drop-a.txt").read() + open("two.txt").read(), end="")');
    expect(await page.textContent('#output pre.stdout')).toBe('dropped a\nsecond file\n');
    // Delete takes a file away again.
    await page.click('#files li[data-path="drop-a.txt"] button:text("Delete")');
    await page.waitForSelector('#files li[data-path="drop-a.txt"]', { state: 'detached' });
  });

  it('shows long file names whole, so names that share a start stay told apart', async () => {
    const names = ['quarterly-revenue-by-region-summary.csv', 'quarterly-revenue-by-region-summary.xlsx'];
    await page.setInputFiles('#file-input', names.map((name) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(name) })));
    for (const name of names) {
      const label = await page.waitForSelector(`#files li[data-path="${name}"] .name`);
      expect(await label.textContent()).toBe(name);
      // Nothing of the name is hidden (an ellipsis would leave scrollWidth above clientWidth).
      expect(await label.evaluate((node) => node.scrollWidth - node.clientWidth)).toBeLessThanOrEqual(0);
    }
  });

  it('downloads a file the code wrote, byte for byte', async () => {
    const expected = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, index) => index)), Buffer.from('end\n')]);
    await run('open("bytes.bin", "wb").write(bytes(range(256)) + b"end\\n")');
    const row = await page.waitForSelector('#files li[data-path="bytes.bin"]');
    const [download] = await Promise.all([page.waitForEvent('download'), (await row.$('button:text("Download")'))?.click()]);
    expect(download.suggestedFilename()).toBe('bytes.bin');
    const saved = await download.path();
    expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('downloads a changed file from the link in the result, byte for byte', async () => {
    const expected = Buffer.concat([Buffer.from('changed,'), Buffer.from(Array.from({ length: 256 }, (_, index) => 255 - index))]);
    await run('open("changed.bin", "wb").write(b"changed," + bytes(range(255, -1, -1)))');
    const link = await page.waitForSelector('#output a.changed-file:text("changed.bin")');
    // The signed link of the result itself (no key in it), on this page's origin.
    expect(await link.getAttribute('href')).toMatch(new RegExp(`^${origin.replaceAll('.', '\\.')}/files/signed/`));
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('changed.bin');
    expect(createHash('sha256').update(readFileSync(await download.path())).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('keeps state per session when switching', async () => {
    await run('marker = "first"');
    const first = await page.inputValue('#session');
    expect(first).not.toBe('');
    await page.click('#session-new');
    await page.waitForFunction((previous) => {
      const select = document.querySelector<HTMLSelectElement>('#session');
      return select !== null && select.value !== '' && select.value !== previous;
    }, first);
    await run('print("defined" if "marker" in globals() else "undefined")');
    expect(await page.textContent('#output pre.stdout')).toContain('undefined');
    // The picker counts the new session's one run in the singular.
    expect(await page.$eval('#session', (select) => (select as HTMLSelectElement).selectedOptions[0]?.textContent)).toMatch(/ · 1 run$/);
    await run('marker = "second"');
    await page.selectOption('#session', first);
    await run('print("marker is", marker)');
    expect(await page.textContent('#output pre.stdout')).toContain('marker is first');
    // The history of the first session can be reopened into the editor.
    await page.click('summary:text("History of this session")');
    const entry = page.locator('#history li', { hasText: 'marker = "first"' });
    await entry.locator('button:text("Open in editor")').click();
    expect(await page.textContent('.cm-content')).toBe('marker = "first"');
    // Reset forgets the variables; Close deletes the other session.
    await page.click('#session-reset');
    await page.waitForSelector('#status:text("Session reset")');
    await run('print("defined" if "marker" in globals() else "undefined")');
    expect(await page.textContent('#output pre.stdout')).toContain('undefined');
    const second = await page.$$eval('#session option', (options, current) => options.map((option) => (option as HTMLOptionElement).value).filter((value) => value !== current), first);
    expect(second.length).toBe(1);
    await page.selectOption('#session', second[0] ?? '');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#session-close');
    await page.waitForSelector('#status:text("Session closed")');
    const left = await page.$$eval('#session option', (options) => options.map((option) => (option as HTMLOptionElement).value));
    expect(left).toEqual([first]);
  });

  it('keeps the selected session and each session\'s editor text across a reload', async () => {
    const typeInEditor = async (text: string): Promise<void> => {
      await page.click('.cm-content');
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText(text);
    };
    const first = await page.inputValue('#session');
    await page.selectOption('#language', 'python');
    await typeInEditor('x = "first draft"');
    await page.click('#session-new');
    await page.waitForFunction((previous) => {
      const select = document.querySelector<HTMLSelectElement>('#session');
      return select !== null && select.value !== '' && select.value !== previous;
    }, first);
    const second = await page.inputValue('#session');
    await page.selectOption('#language', 'javascript');
    await typeInEditor('console.log("second draft")');
    await page.selectOption('#session', first);
    expect(await page.textContent('.cm-content')).toBe('x = "first draft"');
    expect(await page.inputValue('#language')).toBe('python');
    await page.selectOption('#session', second);
    expect(await page.textContent('.cm-content')).toBe('console.log("second draft")');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.inputValue('#session')).toBe(second);
    expect(await page.textContent('.cm-content')).toBe('console.log("second draft")');
    expect(await page.inputValue('#language')).toBe('javascript');
    await page.selectOption('#session', first);
    expect(await page.textContent('.cm-content')).toBe('x = "first draft"');
  });

  it('shows HTML output without scripts, and on request runs them in a sandbox that can neither read sessionStorage nor call the API', async () => {
    const probe = [
      '<p id="probe">pending</p><script>',
      'const report = {};',
      'try { report.storage = "read:" + String(window.sessionStorage.getItem("codecell.apiKey")); } catch (e) { report.storage = "blocked:" + e.name; }',
      'try { report.parent = "read:" + String(window.parent.document.title); } catch (e) { report.parent = "blocked:" + e.name; }',
      'fetch("/mcp", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })',
      '  .then((r) => { report.fetch = "status:" + r.status; }, (e) => { report.fetch = "blocked:" + e.name; })',
      '  .finally(() => { document.getElementById("probe").textContent = JSON.stringify(report); });',
      '</script>',
    ].join('\n');
    await run(['class Probe:', `    def _repr_html_(self): return ${JSON.stringify(probe)}`, '', 'Probe()'].join('\n'));
    // By default the HTML shows without its scripts: the probe keeps its static text.
    expect(await page.getAttribute('#output iframe.html-output', 'sandbox')).toBe('');
    expect(await page.frameLocator('#output iframe.html-output').locator('#probe').textContent()).toBe('pending');
    expect(await page.textContent('#output button.run-scripts')).toContain('WebRTC');
    // On request, the same output runs its scripts, confined.
    await page.click('#output button.run-scripts');
    expect(await page.$$eval('#output button.run-scripts', (buttons) => buttons.length)).toBe(0);
    const frame = page.frameLocator('#output iframe.html-output');
    const probeText = frame.locator('#probe');
    await probeText.filter({ hasNotText: 'pending' }).waitFor();
    const report = JSON.parse((await probeText.textContent()) ?? '{}') as Record<string, string>;
    expect(report.storage).toMatch(/^blocked:/);
    expect(report.parent).toMatch(/^blocked:/);
    expect(report.fetch).toMatch(/^blocked:/);
    expect(await page.getAttribute('#output iframe.html-output', 'sandbox')).toBe('allow-scripts');
  });

  it('shows system info, runs an example in one click, and lists the keyboard shortcuts', async () => {
    await page.click('summary:has-text("System")');
    const system = (await page.textContent('#system')) ?? '';
    expect(system).toContain('Executor');
    expect(system).toMatch(/docker|process/);
    expect(system).toMatch(/Languages.*python.*javascript.*typescript.*bash/s);
    // The Python runtime's line names its packages with versions, e.g. "pandas 2.x".
    expect(system).toMatch(/pandas \d/);

    const example = page.locator('#examples button.example', { hasText: 'decaying wave' });
    await example.click();
    expect(await page.inputValue('#language')).toBe('python');
    expect(await page.textContent('.cm-content')).toContain('signal = np.cos(2 * t)');
    const before = Number((await page.getAttribute('#output', 'data-run')) ?? '0');
    await page.click('.cm-content');
    await page.keyboard.press('ControlOrMeta+Enter');
    await page.waitForSelector(`#output[data-run="${before + 1}"]`);
    expect(await page.textContent('#output pre.stdout')).toMatch(/peak: \d/);
    await page.waitForSelector('#output img[src^="data:image/png;base64,"]');

    await page.click('summary:has-text("Keyboard shortcuts")');
    expect(await page.textContent('dl.shortcuts')).toContain('Run the code');
    expect(await page.isVisible('dl.shortcuts')).toBe(true);
  });

  it('measures the page: bytes transferred and time until it can be used (fresh cache)', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    context.on('request', (request) => requested.push(request.url()));
    const fresh = await context.newPage();
    fresh.setDefaultTimeout(90_000);
    const started = Date.now();
    await fresh.goto(`${origin}/`);
    await fresh.waitForSelector('#key-dialog[open]');
    const keyPromptMs = Date.now() - started;
    await fresh.fill('#key-input', KEY);
    await fresh.click('#key-submit');
    await fresh.waitForSelector('body[data-ready="true"]');
    const readyMs = Date.now() - started;
    const bytes = await fresh.evaluate(() =>
      [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
        .filter((entry) => !new URL(entry.name).pathname.startsWith('/mcp'))
        .reduce((sum, entry) => sum + (entry as PerformanceResourceTiming).transferSize, 0),
    );
    await fresh.screenshot({ path: path.join(ARTIFACTS, 'playground-phone.png') });
    await context.close();
    expect(bytes).toBeGreaterThan(10_000);
    writeFileSync(path.join(ARTIFACTS, 'playground-metrics.json'), `${JSON.stringify({ pageBytes: bytes, keyPromptMs, readyMs }, null, 2)}\n`);
  });

  it('made every request to its own origin, and never put the key in a URL', () => {
    const network = requested.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:'));
    expect(network.length).toBeGreaterThan(5);
    expect(network.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(requested.filter((url) => url.includes(KEY))).toEqual([]);
  });

  it('ran without a script error or a Content-Security-Policy violation in the page', async () => {
    // The wrong key's 401 is logged by Chromium as a failed resource load; nothing else may be.
    expect(pageErrors.filter((text) => !text.includes('401'))).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  });
});

describe('playground on a keyless loopback server', { timeout: 300_000 }, () => {
  it('just works: no key asked, code runs', async () => {
    const openDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-playground-open-'));
    const open = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? os.tmpdir(),
        CODECELL_DATA_DIR: openDir,
        CODECELL_POOL_PYTHON: '1',
        CODECELL_POOL_PYTHON_LEAN: '0',
        CODECELL_POOL_NODE: '0',
        CODECELL_POOL_BASH: '0',
        ...TEST_IMAGES,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await listeningUrl(open);
      const context = await browser.newContext();
      const openPage = await context.newPage();
      openPage.setDefaultTimeout(90_000);
      await openPage.goto(url);
      await openPage.waitForSelector('body[data-ready="true"]');
      expect(await openPage.isVisible('#key-dialog')).toBe(false);
      await openPage.click('.cm-content');
      await openPage.keyboard.press('ControlOrMeta+a');
      await openPage.keyboard.press('Delete');
      await openPage.keyboard.insertText('print(sum(range(101)))');
      await openPage.click('#run');
      await openPage.waitForSelector('#output[data-run="1"]');
      expect(await openPage.textContent('#output pre.stdout')).toBe('5050\n');
      expect(await openPage.evaluate(() => sessionStorage.getItem('codecell.apiKey'))).toBeNull();
      await context.close();
    } finally {
      const exited = new Promise((resolve) => open.once('exit', resolve));
      open.kill('SIGTERM');
      await exited;
      rmSync(openDir, { recursive: true, force: true });
    }
  });
});
