/**
 * The packages the images promise (README, "Packages"): one cell per runtime uses every one of
 * them and the results are checked, not only the imports. Driven directly with the docker CLI
 * (run-image.ts), like the other image tests.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { useImageHarness, type Run } from './run-image.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const cell = (name: string) => readFileSync(path.join(here, 'packages', name), 'utf8');

/** The cell's one JSON line, after checking the run went through. */
function resultOf(run: Run): Record<string, unknown> {
  expect(run.result.error, run.stderr).toBeNull();
  expect(run.result.outcome).toBe('ok');
  return JSON.parse(run.output.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
}

describe('python image packages', () => {
  const python = useImageHarness('python');

  it('imports every promised library and each one does its job', async () => {
    const out = resultOf(await new python.Session().run(cell('python-smoke.py')));
    expect(Object.keys(out.versions as object)).toHaveLength(47);
    expect(out.ols).toEqual([2.2, 0.6]);
    expect(out.xlsx).toEqual([['city', 'n'], ['Oslo', 3], ['Lima', 4]]);
    expect(out.ods).toEqual({ city: ['Oslo', 'Lima'], n: [3, 4] });
    expect(out.style_html).toBe(true);
    expect(out.pdf).toEqual({ pypdf: 'Codecell PDF 42', PyPDF2: 'Codecell PDF 42', pdfminer: 'Codecell PDF 42', fitz: 'Codecell PDF 42', pdftotext: 'Codecell PDF 42' });
    expect(out.docx).toEqual(['Hello from python-docx']);
    expect(out.cv2).toEqual({ shape: [3, 4, 3], pixel: [255, 0, 0], gray: 29 });
    expect(out.skimage_regions).toBe(2);
    expect(out.networkx).toBe(4);
    expect(out.plotly).toEqual([7]);
    expect(out.xarray).toBe(4);
    expect(out.h5py).toEqual([0, 1, 2, 3]);
    expect(out.tables).toBe(true);
    expect(out.bs4).toBe('bold');
    expect(out.lxml).toBe(2);
    expect(out.yaml).toEqual({ a: [1, 2], b: 'x' });
    expect(out.jinja2).toBe('3 items');
    expect(out.markdown).toBe('<h1>Title</h1>');
    expect(out.chardet).toBe('ISO-8859-1');
    expect(out.dateutil).toBe('2024-03-05T10:30:00+01:00');
    expect(out.pytz).toBe('2:00:00');
    expect(out.sqlalchemy).toBe(42);
    expect(out.pydantic).toBe(5);
    expect(out.rich).toBe('rich text');
    expect(out.qrcode).toEqual([290, 290]);
    expect(out.tqdm).toBe(10);
    expect(out.requests).toBe('http://example.invalid/?q=a+b');
    expect(out.shapely).toBe(6);
    expect(out.pyproj).toBe(1113195);
    expect(out.geopandas).toBe(5);
    expect(out.graphviz_png).toBe(true);
    expect(out.sqlite3_cli).toBe('42');
    expect(out.wordcloud).toEqual([120, 80]);
    // Distinct glyphs for distinct characters, no "Glyph missing" warning; the same characters in a
    // font without CJK come out as one identical box, which is what the first check rules out.
    expect(out.emoji_colours).toBeGreaterThan(20);
    expect(out.cjk).toEqual({ distinct_default: true, inked: true, missing_glyph_warnings: 0, same_box_without_cjk_font: true });
  });
});

describe('node image packages', () => {
  const node = useImageHarness('node');

  it('resolves every promised npm package by name, with import, require and import(), and from a .mjs file', async () => {
    const out = resultOf(await new node.Session().run(cell('node-smoke.js')));
    expect(out).toEqual({
      lodash: [[1, 2], [3, 4], [5]],
      lodashDynamic: 6,
      dateFns: '2024-02-01',
      mathjs: 12,
      mathjsDynamic: -2,
      papaparse: [{ a: 1, b: 2 }],
      d3Array: [3, [1, 9]],
      d3Dsv: { x: '1', y: '2' },
      dayjs: '2024-02-29',
      luxon: '2024-03-12T00:00:00.000Z',
      decimal: '0.3',
      simpleStatistics: { m: 2, b: 0 },
      csv: [[{ a: '1', b: '2' }], 'x,"y, z"\n'],
      uuid: true,
      yaml: { a: [1, 2] },
      xml: { r: { i: [1, 2] } },
      zod: false,
      exceljs: ['Oslo', 3],
      esmFile: [3, 3],
    });
  });
});

describe('bash image interpreters', () => {
  const bash = useImageHarness('bash');

  it('runs python3 with numpy, node and sqlite3', async () => {
    const run = await new bash.Session().run(
      'python3 -c "import numpy; print(int(numpy.arange(10).sum()))"\n' +
        'node -e "console.log([1, 2, 3].map((x) => x * 2).join())"\n' +
        'sqlite3 :memory: "create table t(x); insert into t values (4), (5); select sum(x) from t;"',
    );
    expect(run.result).toMatchObject({ outcome: 'ok', exitCode: 0 });
    expect(run.output).toBe('45\n2,4,6\n9\n');
  });
});

describe('get_system_info', () => {
  let testEngine: TestEngine | undefined;
  afterAll(async () => testEngine?.close());

  it('lists what the images hold, with versions', async () => {
    testEngine = await startTestEngine();
    const info = await testEngine.engine.systemInfo();
    const packages = (runtime: string) => info.runtimes.find((entry) => entry.runtime === runtime)?.packages ?? {};
    const python = packages('python');
    expect(python).toMatchObject({ statsmodels: expect.stringMatching(/^0\.\d+/), xlsxwriter: expect.stringMatching(/^\d+\./), pypdf: expect.stringMatching(/^\d+\./) });
    expect(Object.keys(python).length).toBeGreaterThan(80);
    expect(python).toMatchObject({ opencv: expect.stringMatching(/^4\./), mpmath: expect.stringMatching(/^1\./) });
    const node = packages('node');
    expect(node).toMatchObject({ lodash: '4.18.1', 'date-fns': '4.4.0', mathjs: '15.2.0', papaparse: '5.7.1', 'd3-array': '2.12.1' });
    expect(packages('bash')).toMatchObject({ python3: expect.stringMatching(/^3\.11/), node: expect.stringMatching(/^18\./), sqlite3: expect.stringMatching(/^3\./), jq: expect.any(String) });
  });
});
