/**
 * Multi-step chats and notebook habits: load in one call, transform in the next, plot in a third;
 * display(), !ls, %pip; helpers with functools caches, dataclasses and NamedTuples kept between
 * calls; files shared by Python, JavaScript and bash; network calls that meet a clear notice.
 */
import { expect } from 'vitest';
import { SALES, SALES_CSV, revenueOf, sumBy } from './helpers/fixtures.js';
import { describePrograms, expectClose, expectFigureSize, lastJson, type ProgramCase } from './helpers/programs.js';

const cases: ProgramCase[] = [
  {
    name: 'load in call 1, transform in call 2, plot in call 3: variables and files kept',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const load = await session.python(`import pandas as pd
df = pd.read_csv('/mnt/data/sales.csv', parse_dates=['date'])
df.shape`);
      expect(load.out.value).toBe('(24, 5)');
      const transform = await session.python(`df['revenue'] = df['units'] * df['price']
df['month'] = df['date'].dt.to_period('M').astype(str)
monthly = df.groupby('month')['revenue'].sum()
monthly.to_csv('/mnt/data/monthly.csv')
round(monthly.max(), 2)`);
      const monthly = sumBy(SALES, (sale) => sale.date.slice(0, 7), revenueOf);
      expectClose(Number(transform.out.value), Math.max(...monthly.values()), 2);
      expect(transform.out.files.map((file) => file.path)).toEqual(['monthly.csv']);
      const plot = await session.python(`import matplotlib.pyplot as plt
ax = monthly.plot(kind='line', marker='o', figsize=(7, 3))
ax.set_title('Monthly revenue')
plt.show()
print(len(monthly), list(monthly.index[:2]))`);
      expect(plot.out.stdout).toBe("6 ['2024-01', '2024-02']\n");
      expect(plot.images).toHaveLength(1);
      expectFigureSize(plot.images[0], { width: 700, height: 300 });
      const csv = (await session.download('monthly.csv')).toString('utf8').trim().split('\n');
      expect(csv[0]).toBe('month,revenue');
      expect(csv).toHaveLength(7);
    },
  },
  {
    name: 'display(df) shows the table as text, and display() of a figure shows an image',
    async run(session) {
      const run = await session.python(`import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({'product': ['tea', 'coffee'], 'price': [3.5, 4.25]})
display(df)
fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
ax.plot([0, 1], [0, 1])
display(fig)
plt.close(fig)
print('after')`);
      expect(run.text).toMatch(/product\s+price/);
      expect(run.text).toMatch(/coffee\s+4\.25/);
      expect(run.out.stdout.indexOf('coffee')).toBeLessThan(run.out.stdout.indexOf('after'));
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 300, height: 200 });
    },
  },
  {
    name: '!ls and !wc run shell commands inside a Python cell',
    async run(session) {
      await session.upload('notes.txt', 'one\ntwo\nthree\n');
      const run = await session.python(`!ls /mnt/data
!wc -l notes.txt
print('done')`);
      expect(run.out.stdout).toContain('notes.txt');
      expect(run.out.stdout).toMatch(/3 notes\.txt/);
      expect(run.out.stdout).toContain('done');
    },
  },
  {
    name: '%pip install answers plainly: no network, what is installed, ask the admin',
    async run(session) {
      const run = await session.python(`%pip install polars
import pandas
print('pandas', pandas.__version__)`, { allowError: true });
      expect(run.text).toMatch(/no network/i);
      expect(run.text).toMatch(/polars/);
      expect(run.text).toMatch(/admin/i);
      expect(run.text).not.toMatch(/SyntaxError/);
    },
  },
  {
    name: 'helpers with lru_cache, a dataclass, an Enum and a NamedTuple survive to the next call',
    async run(session) {
      const first = await session.python(`from functools import lru_cache, cache, partial, wraps
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

@lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@cache
def squares(n):
    return [i * i for i in range(n)]

class Color(Enum):
    RED = 'red'
    GREEN = 'green'

class Point(NamedTuple):
    x: float
    y: float

@dataclass(frozen=True)
class Product:
    name: str
    price: float
    tags: tuple = ()
    @property
    def with_vat(self):
        return round(self.price * 1.2, 2)

def logged(fn):
    @wraps(fn)
    def inner(*args):
        return fn(*args)
    return inner

@logged
def area(p: Point) -> float:
    return abs(p.x * p.y)

double = partial(lambda factor, x: factor * x, 2)
catalog = [Product('pen', 1.5, ('office',)), Product('lamp', 20.0)]
fib(30)`);
      expect(first.out.value).toBe('832040');
      expect(first.out.not_carried).toEqual([]);
      const second = await session.python(`import json
print(json.dumps({'fib': fib(40), 'squares': squares(4), 'color': Color('green').name, 'point': Point(3, -4)._asdict(),
                  'vat': [p.with_vat for p in catalog], 'area': area(Point(3, -4)), 'double': double(21), 'name': area.__name__}))`);
      expect(lastJson(second)).toEqual({
        fib: 102334155,
        squares: [0, 1, 4, 9],
        color: 'GREEN',
        point: { x: 3, y: -4 },
        vat: [1.8, 24],
        area: 12,
        double: 42,
        name: 'area',
      });
    },
  },
  {
    name: 'one value that cannot be carried is named in the run that made it; the rest survive',
    async run(session) {
      const first = await session.python(`import threading
threshold = 0.75
lock = threading.Lock()
def classify(x):
    return 'high' if x > threshold else 'low'
labels = [classify(v) for v in (0.2, 0.9)]`);
      expect(first.out.not_carried.map((value) => value.name)).toEqual(['lock']);
      const second = await session.python(`print(threshold, labels, classify(0.8))`);
      expect(second.out.stdout).toBe("0.75 ['low', 'high'] high\n");
    },
  },
  {
    name: 'requests.get fails with a clear no-network notice, not a DNS riddle',
    async run(session) {
      const run = await session.python(`import requests
resp = requests.get('https://api.example.com/data.json', timeout=5)
print(resp.status_code)`, { allowError: true });
      expect(run.out.status).toBe('error');
      expect(run.out.notice ?? '').toMatch(/no network access/i);
      expect(run.out.notice ?? '').toMatch(/upload/i);
    },
  },
  {
    name: 'urllib and pandas.read_csv of a URL meet the same notice',
    async run(session) {
      const run = await session.python(`import pandas as pd
df = pd.read_csv('https://raw.githubusercontent.com/mwaskom/seaborn-data/master/tips.csv')`, { allowError: true });
      expect(run.out.status).toBe('error');
      expect(run.text).toMatch(/no network access/i);
    },
  },
  {
    name: 'Python writes, JavaScript reads and adds, bash checks: one session, shared files',
    async run(session) {
      await session.python(`import json
with open('/mnt/data/shared.json', 'w') as f:
    json.dump({'from_python': [1, 2, 3]}, f)`);
      await session.javascript(`const fs = require('fs');
const data = JSON.parse(fs.readFileSync('/mnt/data/shared.json', 'utf8'));
data.from_js = data.from_python.map((n) => n * 10);
fs.writeFileSync('/mnt/data/shared.json', JSON.stringify(data));`);
      const run = await session.bash(`jq -c '.from_js' shared.json && jq '[.from_python[], .from_js[]] | add' shared.json`);
      expect(run.out.stdout).toBe('[10,20,30]\n66\n');
    },
  },
  {
    name: 'reset_execution_session forgets variables but keeps the files',
    async run(session) {
      await session.python(`secret = 42
open('kept.txt', 'w').write('still here')`);
      await session.tool('reset_execution_session');
      const after = await session.python(`import os
print('secret' in globals(), open('kept.txt').read(), sorted(os.listdir('.')))`);
      expect(after.out.stdout).toBe("False still here ['kept.txt']\n");
    },
  },
  {
    name: 'a NameError for an undefined name points at the user’s line; the session carries on',
    async run(session) {
      await session.python(`total = 10`);
      const failing = await session.python(`x = 1
y = totl + x`, { allowError: true });
      expect(failing.out.status).toBe('error');
      expect(failing.out.error?.name).toBe('NameError');
      expect(failing.out.error?.traceback).toMatch(/line 2/);
      const next = await session.python(`total + x`);
      expect(next.out.value).toBe('11');
    },
  },
  {
    name: 'tqdm progress bars and a long loop report the final figure',
    async run(session) {
      const run = await session.python(`from tqdm import tqdm
total = 0
for i in tqdm(range(10_000), desc='summing'):
    total += i
print('total', total)`);
      expect(run.out.stdout).toContain('total 49995000');
      expect(run.out.stderr).toContain('summing: 100%');
    },
  },
  {
    name: 'os.cpu_count() and joblib size a parallel job to the sandbox’s one CPU',
    async run(session) {
      const run = await session.python(`import os
from joblib import Parallel, delayed, effective_n_jobs
squares = Parallel(n_jobs=-1)(delayed(pow)(i, 2) for i in range(5))
print(os.cpu_count(), effective_n_jobs(-1), squares)`);
      expect(run.out.stdout).toBe('1 1 [0, 1, 4, 9, 16]\n');
    },
  },
  {
    name: 'get_system_info lists the installed packages a model asks about',
    async run(session) {
      const info = await session.tool('get_system_info');
      const text = info.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
      for (const name of ['pandas', 'statsmodels', 'xlsxwriter', 'docx', 'reportlab', 'pypdf', 'lodash', 'date-fns', 'sqlite3']) {
        expect(text.toLowerCase(), name).toContain(name);
      }
    },
  },
];

describePrograms('multi-step sessions and notebook habits', cases);
