/**
 * JavaScript and TypeScript data work, written the way a model writes it: the usual npm packages
 * (lodash, date-fns, mathjs, papaparse, d3-array), the user's uploaded CSV at /mnt/data, classes and
 * Maps that must live on in the next call, and a fetch that meets the sandbox's missing network.
 */
import { expect } from 'vitest';
import { ORDERS, SALES, SALES_CSV, orderValueByCountry, revenueOf, sumBy } from './helpers/fixtures.js';
import { describePrograms, expectClose, lastJson, type ProgramCase } from './helpers/programs.js';

const cases: ProgramCase[] = [
  {
    name: 'plain Node: read the uploaded CSV with fs and total the units per product',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.javascript(`const fs = require('fs');
const [header, ...lines] = fs.readFileSync('/mnt/data/sales.csv', 'utf8').trim().split('\\n');
const cols = header.split(',');
const rows = lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [cols[i], v])));
const totals = {};
for (const row of rows) totals[row.product] = (totals[row.product] ?? 0) + Number(row.units);
console.log(rows.length, 'rows');
console.log(JSON.stringify(totals));`);
      expect(run.out.stdout.split('\n')[0]).toBe('24 rows');
      expect(lastJson(run)).toEqual(Object.fromEntries(sumBy(SALES, (sale) => sale.product, (sale) => sale.units)));
    },
  },
  {
    name: 'papaparse + lodash: parse with types, group and sum revenue per region',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.javascript(`const Papa = require('papaparse');
const _ = require('lodash');
const fs = require('fs');
const { data, errors } = Papa.parse(fs.readFileSync('sales.csv', 'utf8'), { header: true, dynamicTyping: true, skipEmptyLines: true });
const byRegion = _.mapValues(_.groupBy(data, 'region'), (rows) => _.round(_.sumBy(rows, (r) => r.units * r.price), 2));
console.log(JSON.stringify({ errors: errors.length, byRegion, top: _.maxBy(_.toPairs(byRegion), 1)[0] }));`);
      const expected = sumBy(SALES, (sale) => sale.region, revenueOf);
      const answer = lastJson<{ errors: number; byRegion: Record<string, number>; top: string }>(run);
      expect(answer.errors).toBe(0);
      for (const [region, revenue] of expected) expectClose(answer.byRegion[region], revenue, 2);
      expect(answer.top).toBe([...expected.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]);
    },
  },
  {
    name: 'date-fns: business dates, differences and formatting (ES module import)',
    async run(session) {
      const run = await session.javascript(`import { addBusinessDays, differenceInCalendarDays, format, parseISO, eachMonthOfInterval } from 'date-fns';
const start = parseISO('2024-02-27');
const due = addBusinessDays(start, 5);
console.log(JSON.stringify({
  due: format(due, 'yyyy-MM-dd EEEE'),
  days: differenceInCalendarDays(parseISO('2024-12-25'), start),
  months: eachMonthOfInterval({ start, end: parseISO('2024-05-02') }).map((d) => format(d, 'MMM')),
}));`);
      expect(lastJson(run)).toEqual({ due: '2024-03-05 Tuesday', days: 302, months: ['Feb', 'Mar', 'Apr', 'May'] });
    },
  },
  {
    name: 'mathjs: expressions with units, a determinant and an exact fraction',
    async run(session) {
      const run = await session.javascript(`const math = require('mathjs');
const det = math.round(math.det([[2, 0, 1], [1, 3, 2], [1, 1, 2]]), 9);
const speed = math.evaluate('120 km / 1.5 h to m/s');
const frac = math.format(math.add(math.fraction(1, 3), math.fraction(1, 6)));
console.log(JSON.stringify({ det, speed: math.round(speed.toNumber('m/s'), 4), frac, sqrt: math.sqrt(-4).toString() }));`);
      expect(lastJson(run)).toEqual({ det: 6, speed: 22.2222, frac: '1/2', sqrt: '2i' });
    },
  },
  {
    name: 'd3-array: rollup, quantiles and bins over the uploaded sales',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.javascript(`const { rollup, sum, quantile, bin, extent } = await import('d3-array');
const { csvParse, autoType } = await import('d3-dsv');
const fs = require('fs');
const rows = csvParse(fs.readFileSync('/mnt/data/sales.csv', 'utf8'), autoType);
const units = rows.map((r) => r.units);
const byProduct = Object.fromEntries(rollup(rows, (v) => sum(v, (r) => r.units), (r) => r.product));
const bins = bin().domain([0, 15]).thresholds([5, 10])(units).map((b) => b.length);
console.log(JSON.stringify({ byProduct, median: quantile(units, 0.5), extent: extent(units), bins }));`);
      const units = SALES.map((sale) => sale.units).sort((a, b) => a - b);
      const answer = lastJson<{ byProduct: Record<string, number>; median: number; extent: number[]; bins: number[] }>(run);
      expect(answer.byProduct).toEqual(Object.fromEntries(sumBy(SALES, (sale) => sale.product, (sale) => sale.units)));
      expect(answer.median).toBe(((units[11] ?? 0) + (units[12] ?? 0)) / 2);
      expect(answer.extent).toEqual([units[0], units[units.length - 1]]);
      expect(answer.bins).toEqual([units.filter((u) => u < 5).length, units.filter((u) => u >= 5 && u < 10).length, units.filter((u) => u >= 10).length]);
    },
  },
  {
    name: 'nested JSON upload: flatten orders and total them per country with reduce',
    async run(session) {
      await session.upload('orders.json', JSON.stringify(ORDERS));
      const run = await session.javascript(`const orders = JSON.parse(require('fs').readFileSync('/mnt/data/orders.json', 'utf8'));
const totals = orders
  .flatMap((o) => o.items.map((i) => ({ country: o.customer.country, value: i.qty * i.price })))
  .reduce((acc, { country, value }) => ({ ...acc, [country]: (acc[country] ?? 0) + value }), {});
console.log(JSON.stringify(totals));`);
      expect(lastJson(run)).toEqual(Object.fromEntries(orderValueByCountry()));
    },
  },
  {
    name: 'a Map of class instances built in one call is used and extended in the next',
    async run(session) {
      await session.javascript(`class Account {
  constructor(owner, balance = 0) { this.owner = owner; this.balance = balance; this.history = []; }
  deposit(amount) { this.balance += amount; this.history.push(['deposit', amount]); return this; }
  withdraw(amount) {
    if (amount > this.balance) throw new Error('insufficient funds');
    this.balance -= amount; this.history.push(['withdraw', amount]); return this;
  }
}
const accounts = new Map();
accounts.set('ada', new Account('Ada', 100).deposit(50));
accounts.set('lin', new Account('Lin').deposit(20));
console.log(accounts.size);`);
      const run = await session.javascript(`accounts.get('ada').withdraw(30);
accounts.set('sam', new Account('Sam', 5));
let refused = '';
try { accounts.get('lin').withdraw(100); } catch (e) { refused = e.message; }
console.log(JSON.stringify({
  balances: Object.fromEntries([...accounts].map(([k, a]) => [k, a.balance])),
  isAccount: accounts.get('ada') instanceof Account,
  history: accounts.get('ada').history,
  refused,
}));`);
      expect(lastJson(run)).toEqual({
        balances: { ada: 120, lin: 20, sam: 5 },
        isAccount: true,
        history: [
          ['deposit', 50],
          ['withdraw', 30],
        ],
        refused: 'insufficient funds',
      });
    },
  },
  {
    name: 'a subclass of a class with #private fields keeps working in the next call',
    async run(session) {
      const first = await session.javascript(`class Counter {
  #count = 0;
  static created = 0;
  constructor() { Counter.created += 1; }
  increment() { this.#count += 1; return this.#count; }
  get value() { return this.#count; }
}
class StepCounter extends Counter {
  #step;
  constructor(step) { super(); this.#step = step; }
  increment() { for (let i = 1; i < this.#step; i++) super.increment(); return super.increment(); }
}
const counter = new StepCounter(5);
counter.increment();
counter.value`);
      expect(first.out.value).toBe('5');
      expect(first.out.not_carried).toEqual([]);
      const second = await session.javascript(`counter.increment();
console.log(counter.value, counter instanceof Counter, Counter.created);`);
      expect(second.out.stdout).toBe('10 true 1\n');
    },
  },
  {
    name: 'fetch() without a network says so plainly instead of a bare "fetch failed"',
    async run(session) {
      const run = await session.javascript(`const res = await fetch('https://api.github.com/repos/nodejs/node');
console.log(res.status);`, { allowError: true });
      expect(run.out.status).toBe('error');
      expect(run.text).toMatch(/no network access/i);
      expect(run.text).toMatch(/upload/i);
    },
  },
  {
    name: 'write a JSON report with fs and download exactly those bytes',
    async run(session) {
      await session.javascript(`const fs = require('fs');
const report = { generated: '2024-06-30', items: [{ id: 1, ok: true }, { id: 2, ok: false }] };
fs.mkdirSync('reports', { recursive: true });
fs.writeFileSync('reports/status.json', JSON.stringify(report, null, 2) + '\\n');`);
      expect((await session.download('reports/status.json')).toString('utf8')).toBe(
        JSON.stringify({ generated: '2024-06-30', items: [{ id: 1, ok: true }, { id: 2, ok: false }] }, null, 2) + '\n',
      );
    },
  },
  {
    name: 'top-level await over Promise.all and a generator pipeline',
    async run(session) {
      const run = await session.javascript(`const delay = (ms, v) => new Promise((r) => setTimeout(() => r(v), ms));
function* primes(limit) {
  outer: for (let n = 2; n <= limit; n++) {
    for (let d = 2; d * d <= n; d++) if (n % d === 0) continue outer;
    yield n;
  }
}
const results = await Promise.all([delay(20, 'a'), delay(5, 'b'), delay(1, 'c')]);
({ results, primes: [...primes(30)].join(' ') })`);
      expect(run.out.value).toContain("results: [ 'a', 'b', 'c' ]");
      expect(run.out.value).toContain("primes: '2 3 5 7 11 13 17 19 23 29'");
    },
  },
  {
    name: 'TypeScript: interfaces, a generic repository class and an enum across two calls',
    async run(session) {
      await session.typescript(`enum Status { Open = 'open', Done = 'done' }
interface Task { id: number; title: string; status: Status; estimate: number }
class Repository<T extends { id: number }> {
  private items = new Map<number, T>();
  add(item: T): this { this.items.set(item.id, item); return this; }
  get(id: number): T | undefined { return this.items.get(id); }
  where(pred: (item: T) => boolean): T[] { return [...this.items.values()].filter(pred); }
}
const tasks = new Repository<Task>();
tasks.add({ id: 1, title: 'Write tests', status: Status.Open, estimate: 3 })
     .add({ id: 2, title: 'Fix bug', status: Status.Done, estimate: 1 });`);
      const run = await session.typescript(`tasks.add({ id: 3, title: 'Review', status: Status.Open, estimate: 2 });
const open: Task[] = tasks.where((t) => t.status === Status.Open);
const hours: number = open.reduce((sum, t) => sum + t.estimate, 0);
console.log(JSON.stringify({ open: open.map((t) => t.title), hours, second: tasks.get(2)?.status }));`);
      expect(lastJson(run)).toEqual({ open: ['Write tests', 'Review'], hours: 5, second: 'done' });
    },
  },
  {
    name: 'TypeScript: a typed CSV reader with a type guard and an error at the user’s TS line',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const ok = await session.typescript(`import { readFileSync } from 'fs';
type Row = { region: string; units: number };
const isRow = (value: unknown): value is Row =>
  typeof value === 'object' && value !== null && typeof (value as Row).units === 'number';
const parsed: unknown[] = readFileSync('/mnt/data/sales.csv', 'utf8').trim().split('\\n').slice(1)
  .map((line: string) => { const [, region, , units] = line.split(','); return { region, units: Number(units) }; });
const rows: Row[] = parsed.filter(isRow);
const maxUnits: number = Math.max(...rows.map((r: Row) => r.units));
console.log(rows.length, maxUnits);`);
      expect(ok.out.stdout).toBe(`24 ${Math.max(...SALES.map((sale) => sale.units))}\n`);
      const failing = await session.typescript(`function mustBePositive(n: number): number {
  if (n <= 0) throw new RangeError(\`expected a positive number, got \${n}\`);
  return n;
}
mustBePositive(maxUnits - 100);`, { allowError: true });
      expect(failing.out.status).toBe('error');
      expect(failing.out.error?.name).toBe('RangeError');
      expect(failing.out.error?.message).toBe(`expected a positive number, got ${Math.max(...SALES.map((sale) => sale.units)) - 100}`);
      expect(failing.out.error?.traceback).toMatch(/<cell>:2/);
    },
  },
];

describePrograms('javascript and typescript programs', cases);
