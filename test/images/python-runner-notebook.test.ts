/**
 * Notebook habits in the Python image's runner, through real containers (images/PROTOCOL.md):
 * display(), IPython's magics and shell escapes, `%pip install` answered plainly, the package hint
 * notice, PIL's show(), and one image per figure (a figure saved into /mnt/data is not sent again).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { useImageHarness, type Run } from './run-image.js';

const harness = useImageHarness('python');

/** One cell in a new session (a fresh /mnt/data); the session is returned for follow-up runs. */
async function runCell(code: string): Promise<Run & { dataDir: string }> {
  const session = new harness.Session();
  const run = await session.run(code);
  return { ...run, dataDir: session.dataDir };
}

function pngBytes(base64: string): Buffer {
  const png = Buffer.from(base64, 'base64');
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return png;
}

function pngSize(base64: string): { width: number; height: number } {
  const png = pngBytes(base64);
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function expectOk(run: Run): void {
  expect(run.result.outcome, JSON.stringify(run.result.error)).toBe('ok');
}

describe('python runner: display()', () => {
  it('prints DataFrames and Series as text tables, wide frames unwrapped, several objects per call', async () => {
    const run = await runCell(
      [
        'import pandas as pd',
        'df = pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.5, 19.25]})',
        'display(df, df["temp"], clear=True)',
        'wide = pd.DataFrame({f"column_number_{i}": [i] for i in range(8)})',
        'display(wide)',
        'display("text", 42)',
      ].join('\n'),
    );
    expectOk(run);
    const lines = run.output.split('\n');
    expect(lines.slice(0, 3)).toEqual(['   city   temp', '0  Oslo   3.50', '1  Lima  19.25']);
    expect(lines.slice(3, 6)).toEqual(['0     3.50', '1    19.25', 'Name: temp, dtype: float64']);
    // All eight columns on one header line (a plain repr would wrap them at 80 characters).
    expect(lines[6]).toMatch(/^\s+column_number_0 .* column_number_7$/);
    expect(lines[6]?.length).toBeGreaterThan(120);
    expect(lines[7]).toMatch(/^0\s+0\s+1\s+2\s+3\s+4\s+5\s+6\s+7$/);
    expect(lines.slice(8)).toEqual(["'text'", '42', '']);
    expect(run.result.images).toEqual([]);
  });

  it('shows figures, PIL images and _repr_png_ objects as PNG images of their real size', async () => {
    const run = await runCell(
      [
        'import io',
        'import matplotlib.pyplot as plt',
        'from PIL import Image',
        'plt.rcParams["savefig.bbox"] = "standard"  # the image\'s default crops to the drawing ("tight")',
        'fig, ax = plt.subplots(figsize=(4, 3), dpi=50)',
        'ax.plot([1, 3, 2])',
        'display(fig)',
        'display(Image.new("RGB", (30, 20), "red"))',
        'class Badge:',
        '    def _repr_png_(self):',
        '        out = io.BytesIO()',
        '        Image.new("L", (11, 7), 128).save(out, format="PNG")',
        '        return out.getvalue()',
        'display(Badge())',
        'display(Image.new("F", (5, 4)))  # a mode PNG cannot hold: converted',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.output).toBe('');
    expect(run.result.images.map((image) => pngSize(image.base64))).toEqual([
      { width: 200, height: 150 },
      { width: 30, height: 20 },
      { width: 11, height: 7 },
      { width: 5, height: 4 },
    ]);
  });

  it('shows HTML and Markdown objects as their source text, and works through `from IPython.display import`', async () => {
    const run = await runCell(
      [
        'from IPython.display import display, HTML, Markdown, Image, clear_output',
        'from IPython.core.display import JSON',
        'import IPython',
        'from IPython import display as ipd  # the module, as in IPython',
        'ipd.display(HTML("<b>bold</b>"), ipd.Markdown("# Title"), JSON({"a": 1}))',
        'clear_output(wait=True)',
        'display(Image(url="https://example.com/chart.png"))',
        'print(IPython.get_ipython())',
        '# Libraries that probe for a running IPython find none, and take their plain path.',
        'import sympy',
        'sympy.init_printing()',
        'import builtins',
        'print(sympy.symbols("x") ** 2, hasattr(builtins, "get_ipython"), hasattr(builtins, "display"))',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.output).toBe(
      '<b>bold</b>\n# Title\n{\n  "a": 1\n}\n' +
        '(Image from https://example.com/chart.png: not fetched, this sandbox has no network access)\nNone\n' +
        'x**2 False True\n',
    );
  });

  it('gives a trailing HTML or Markdown object its source text as the value, not its default repr', async () => {
    const session = new harness.Session();
    const html = await session.run('from IPython.display import HTML, Markdown\nHTML("<table><tr><td>1</td></tr></table>")');
    expectOk(html);
    expect(html.result.value).toBe('<table><tr><td>1</td></tr></table>');
    const markdown = await session.run('Markdown("**total**: 3")');
    expectOk(markdown);
    expect(markdown.result.value).toBe('**total**: 3');
  });

  it('keeps a display imported from IPython.display across runs', async () => {
    const session = new harness.Session();
    const first = await session.run('from IPython.display import display, Markdown\nnote = Markdown("*kept*")');
    expectOk(first);
    expect(first.result.notCarried).toEqual([]);
    const second = await session.run('display(note)\ndisplay(3 * 7)');
    expectOk(second);
    expect(second.output).toBe('*kept*\n21\n');
  });

  it('returns PIL show() and a trailing PIL image inline, the same image only once', async () => {
    const run = await runCell(
      [
        'from PIL import Image',
        'red = Image.new("RGB", (16, 9), "red")',
        'red.show()',
        'display(red)  # byte for byte the image already sent',
        'blue = Image.new("RGB", (12, 8), "blue")',
        'blue',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.result.images.map((image) => pngSize(image.base64))).toEqual([
      { width: 16, height: 9 },
      { width: 12, height: 8 },
    ]);
    expect(run.result.value).toMatch(/^<PIL\.Image\.Image image mode=RGB size=12x8 at 0x[0-9A-F]+>$/);
  });
});

describe('python runner: one image per figure', () => {
  it('sends no image for a figure saved into /mnt/data and left open: the saved file is its image', async () => {
    const run = await runCell(
      [
        'import matplotlib.pyplot as plt',
        'plt.rcParams["savefig.bbox"] = "standard"  # exact sizes: figsize × dpi',
        'fig, ax = plt.subplots(figsize=(3, 2), dpi=40)',
        'ax.plot([1, 2, 3])',
        'plt.savefig("chart.png")',
        'plt.show()',
        'fig',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.result.images).toEqual([]);
    expect(run.result.imagesOmitted).toBe(0);
    const saved = readFileSync(path.join(run.dataDir, 'chart.png'));
    expect({ width: saved.readUInt32BE(16), height: saved.readUInt32BE(20) }).toEqual({ width: 120, height: 80 });
  });

  it('sends a figure saved elsewhere, changed after saving, or whose saved file was overwritten, once each', async () => {
    const run = await runCell(
      [
        'import matplotlib.pyplot as plt',
        'plt.rcParams["savefig.bbox"] = "standard"  # exact sizes: figsize × dpi',
        'a = plt.figure(figsize=(2, 1), dpi=50); plt.plot([1, 2])',
        'a.savefig("/tmp/a.png")  # not in /mnt/data: the host will not show it',
        'b = plt.figure(figsize=(3, 1), dpi=50); plt.plot([2, 1])',
        'b.savefig("b.png")',
        'plt.title("changed after saving")',
        'c = plt.figure(figsize=(4, 1), dpi=50); plt.plot([1, 1])',
        'c.savefig("same.png")',
        'd = plt.figure(figsize=(5, 1), dpi=50); plt.plot([0, 1])',
        'd.savefig("same.png")  # overwrites c\'s file: c is sent, d is the file',
        'display(a)',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.result.images.map((image) => pngSize(image.base64))).toEqual([
      { width: 100, height: 50 },
      { width: 150, height: 50 },
      { width: 200, height: 50 },
    ]);
    const bImage = pngBytes(run.result.images[1]!.base64);
    const bFile = readFileSync(path.join(run.dataDir, 'b.png'));
    expect(bImage.equals(bFile)).toBe(false); // the title came after the save
    const same = readFileSync(path.join(run.dataDir, 'same.png'));
    expect(same.readUInt32BE(16)).toBe(250);
  });

  it('sends a displayed figure once, not again at the end of the cell, and again after it changed', async () => {
    const run = await runCell(
      [
        'import matplotlib.pyplot as plt',
        'plt.rcParams["savefig.bbox"] = "standard"  # exact sizes: figsize × dpi',
        'fig, ax = plt.subplots(figsize=(2, 2), dpi=30)',
        'for step in range(3):',
        '    ax.plot([0, step])',
        '    display(fig)',
        'display(fig)  # unchanged since the last display',
      ].join('\n'),
    );
    expectOk(run);
    const images = run.result.images.map((image) => pngBytes(image.base64));
    expect(images).toHaveLength(3);
    expect(new Set(images.map((png) => png.toString('base64'))).size).toBe(3);
    expect(images.map((png) => png.readUInt32BE(16))).toEqual([60, 60, 60]);
  });
});

describe('python runner: magics and shell escapes', () => {
  it('takes harmless magics as no-ops and runs !commands in order with the cell\'s output', async () => {
    const run = await runCell(
      [
        '%matplotlib inline',
        "%config InlineBackend.figure_format = 'retina'",
        '%load_ext autoreload',
        '%autoreload 2',
        'print("before", flush=True)',
        '!echo from the shell; echo to stderr >&2',
        'for i in range(2):',
        '    !echo "loop {i} of $i"',
        'listing = !printf "b.txt\\na.txt\\n"',
        'print(listing)',
        'text = """',
        '%not a magic inside a string',
        '!nor this',
        '"""',
        'print(text.split())',
        '!exit 3',
        'print("exit code", _exit_code)',
      ].join('\n'),
    );
    expectOk(run);
    expect(run.output).toBe(
      'before\nfrom the shell\nloop 0 of 0\nloop 1 of 1\n' +
        "['b.txt', 'a.txt']\n['%not', 'a', 'magic', 'inside', 'a', 'string', '!nor', 'this']\nexit code 3\n",
    );
    expect(run.stderr).toContain('to stderr\n');
  });

  it('times a statement with %time and %timeit, and the whole cell with %%time', async () => {
    const timeLine = String.raw`CPU times: user [\d.]+ (?:s|ms|µs|ns), sys: [\d.]+ (?:s|ms|µs|ns), total: [\d.]+ (?:s|ms|µs|ns)\nWall time: [\d.]+ (?:s|ms|µs|ns)\n`;
    const line = await runCell(
      [
        '%time total = sum(range(100_000))',
        'print(total)',
        '%timeit -n 20 -r 3 sorted(range(50))',
        'result = %timeit -o -q -n 5 -r 2 sum(range(10))',
        'print(result.loops, len(result.all_runs), result.best <= result.average)',
      ].join('\n'),
    );
    expectOk(line);
    expect(line.output).toMatch(
      new RegExp(
        `^${timeLine}4999950000\\n[\\d.]+ (?:s|ms|µs|ns) ± [\\d.]+ (?:s|ms|µs|ns) per loop \\(mean ± std\\. dev\\. of 3 runs, 20 loops each\\)\\n5 2 True\\n$`,
      ),
    );

    const cell = await runCell('%%time\nimport math\nx = math.factorial(20)\nx // 2');
    expectOk(cell);
    expect(cell.output).toMatch(new RegExp(`^${timeLine}$`));
    expect(cell.result.value).toBe('1216451004088320000');

    const failing = await runCell('%%time\nx = 1\nraise ValueError("line 3")');
    expect(failing.result.error).toMatchObject({ name: 'ValueError', message: 'line 3' });
    expect(failing.result.error?.traceback).toMatch(/"<cell>", line 3\b/);
  });

  it('writes a file with %%writefile', async () => {
    const write = await runCell('%%writefile notes.txt\nfirst line\nsecond line\n');
    expectOk(write);
    expect(write.output).toBe('Writing notes.txt\n');
    expect(readFileSync(path.join(write.dataDir, 'notes.txt'), 'utf8')).toBe('first line\nsecond line\n');
  });

  it('captures a cell\'s output with %%capture and prints %%html as its source', async () => {
    const session = new harness.Session();
    const captured = await session.run('%%capture out\nprint("hidden")\n%pip install nosuchpkg-xyz\ntotal = 6 * 7');
    expectOk(captured);
    expect(captured.output).toBe('');
    const after = await session.run('print(total, repr(out.stdout.splitlines()[0]), "nosuchpkg-xyz is not installed." in out.stdout)');
    expect(after.output).toBe("42 'hidden' True\n");
    const html = await runCell('%%html\n<table><tr><td>1</td></tr></table>');
    expect(html.output).toBe('<table><tr><td>1</td></tr></table>\n');
  });

  it('runs %cd, %pwd and %env', async () => {
    const run = await runCell(
      ['%cd /tmp', 'here = %pwd', '%env GREETING=hello world', 'import os', 'print(here, os.environ["GREETING"])', '%env GREETING'].join('\n'),
    );
    expectOk(run);
    expect(run.output).toBe('/tmp\nenv: GREETING=hello world\n/tmp hello world\n');
    expect(run.result.value).toBe("'hello world'");
  });

  it('names an unknown magic in a clear error, with the line of the cell', async () => {
    const run = await runCell('x = 1\n%nosuchmagic --flag');
    expect(run.result.error).toMatchObject({ name: 'UsageError' });
    expect(run.result.error?.message).toMatch(/^Line magic function `%nosuchmagic` not found: this is plain Python/);
    expect(run.result.error?.message).toContain('%timeit');
    expect(run.result.error?.traceback).toMatch(/"<cell>", line 2\b/);
    expect(run.result.error?.traceback).toContain('%nosuchmagic --flag');
  });
});

describe('python runner: packages cannot be installed, and the run says so', () => {
  it('answers %pip install and !pip install plainly: installed or not, what is there, whom to ask', async () => {
    const run = await runCell('%pip install -q pandas sklearn "nosuchpkg-xyz>=1.0"\n!pip3 install --upgrade requests-nope');
    expectOk(run);
    const [before, pip, shell] = run.output.split('pip install: this sandbox has no network access, so packages cannot be installed.\n');
    expect(before).toBe('');
    expect(pip).toMatch(/^pandas is installed \(version \d+\.\d+[^)]*\): import it\.\n/);
    expect(pip).toContain('\nsklearn can be imported (it is part of an installed package): import it.\n');
    expect(pip).toContain('\nnosuchpkg-xyz is not installed.\n');
    expect(pip).toMatch(/\nInstalled packages include: .*\bmatplotlib\b.*\bnumpy\b.*\bpandas\b.* \(\d+ in all; `%pip list` shows their versions\)\.\n/);
    expect(pip).toContain('\nTo use nosuchpkg-xyz, ask the admin to add it to the image (README, "Extra packages").\n');
    expect(shell).toContain('requests-nope is not installed.');
    const several = await runCell('%pip install nosuchpkg-a nosuchpkg-b');
    expect(several.output).toContain('\nTo use nosuchpkg-a, nosuchpkg-b, ask the admin to add them to the image (README, "Extra packages").\n');
  });

  it('lists the installed packages with %pip list and pip freeze', async () => {
    const run = await runCell('%pip list\n!pip freeze');
    expectOk(run);
    expect(run.output).toMatch(/^Package +Version\n-+ -------\n/);
    expect(run.output).toMatch(/\nnumpy +\d+\.\d+/);
    expect(run.output).toMatch(/\npandas==\d+\.\d+/);
  });

  it('adds a notice after a missing module or a library\'s pip advice, and none for other errors', async () => {
    const missing = await runCell('import nosuchmodule_xyz.sub');
    expect(missing.result.error).toMatchObject({ name: 'ModuleNotFoundError' });
    expect(missing.result.notices).toEqual([
      'pip and conda are not available here: this sandbox has no network access, so packages cannot be installed ' +
        "at run time. Use what is installed (`%pip list` lists it), or ask the admin to add 'nosuchmodule_xyz' to " +
        'the image (README, "Extra packages").',
    ]);
    const advice = await runCell(
      'raise ImportError("Missing optional dependency \'tables\'.  Use pip or conda to install tables.")',
    );
    expect(advice.result.notices?.[0]).toContain("ask the admin to add 'tables' to the image");
    const submodule = await runCell('import numpy.nosuch_submodule');
    expect(submodule.result.error).toMatchObject({ name: 'ModuleNotFoundError' });
    expect(submodule.result.notices).toEqual([]);
    const other = await runCell('1 / 0');
    expect(other.result.notices).toEqual([]);
  });
});
