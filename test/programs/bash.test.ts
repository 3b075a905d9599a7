/**
 * Shell work, written the way a model writes it: awk/sort/uniq/jq pipelines over uploaded files,
 * git across calls, sqlite3, python3 and node called from bash, archives, a run that writes 3,000
 * files, and the limits a shell reports.
 */
import { expect } from 'vitest';
import { ORDERS, SALES, SALES_CSV, orderValueByCountry, sumBy } from './helpers/fixtures.js';
import { describePrograms, lastJson, type ProgramCase, type Run } from './helpers/programs.js';

/** A small web server log, as a user would paste it. */
const ACCESS_LOG = [
  '10.0.0.1 - - [01/Jun/2024:10:00:01] "GET /index.html HTTP/1.1" 200 512',
  '10.0.0.2 - - [01/Jun/2024:10:00:02] "GET /about.html HTTP/1.1" 200 256',
  '10.0.0.1 - - [01/Jun/2024:10:00:03] "GET /missing HTTP/1.1" 404 0',
  '10.0.0.3 - - [01/Jun/2024:10:00:04] "POST /api/login HTTP/1.1" 500 128',
  '10.0.0.1 - - [01/Jun/2024:10:00:05] "GET /index.html HTTP/1.1" 200 512',
  '10.0.0.2 - - [01/Jun/2024:10:00:06] "GET /index.html HTTP/1.1" 304 0',
].join('\n') + '\n';

/** Files under `directory` the result lists one by one, plus those counted on summary lines ("+ 2,950 more files in …/out/"). */
function listedOrCounted(run: Run, directory: string): number {
  const listed = run.out.files.filter((file) => file.path.startsWith(directory)).length;
  const counted = run.text
    .split('\n')
    .filter((line) => line.includes(directory))
    .map((line) => /([\d,]+) (?:more )?files?\b/.exec(line)?.[1])
    .reduce((sum, count) => sum + (count === undefined ? 0 : Number(count.replaceAll(',', ''))), 0);
  return listed + counted;
}

const cases: ProgramCase[] = [
  {
    name: 'awk: units per region from the uploaded CSV, sorted by total',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.bash(`awk -F, 'NR > 1 { units[$2] += $4 } END { for (r in units) print r, units[r] }' /mnt/data/sales.csv | sort -k2,2nr -k1,1`);
      const expected = [...sumBy(SALES, (sale) => sale.region, (sale) => sale.units).entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([region, units]) => `${region} ${units}`);
      expect(run.out.stdout.trim().split('\n')).toEqual(expected);
    },
  },
  {
    name: 'log analysis: status codes counted, top client, bytes served',
    async run(session) {
      await session.upload('logs/access.log', ACCESS_LOG);
      const run = await session.bash(`cd logs
echo "== status"; awk '{print $(NF-1)}' access.log | sort | uniq -c | sort -k1,1nr -k2,2n | awk '{print $2": "$1}'
echo "== top client"; cut -d' ' -f1 access.log | sort | uniq -c | sort -rn | head -1 | awk '{print $2}'
echo "== bytes"; awk '{s += $NF} END {print s}' access.log
echo "== errors"; grep -cE '" (4|5)[0-9]{2} ' access.log`);
      expect(run.out.stdout).toBe('== status\n200: 3\n304: 1\n404: 1\n500: 1\n== top client\n10.0.0.1\n== bytes\n1408\n== errors\n2\n');
    },
  },
  {
    name: 'jq: totals per country from an uploaded JSON export',
    async run(session) {
      await session.upload('orders.json', JSON.stringify(ORDERS));
      const run = await session.bash(`jq -c '[.[] | .customer.country as $c | .items[] | {c: $c, v: (.qty * .price)}] | group_by(.c) | map({(.[0].c): (map(.v) | add)}) | add' orders.json`);
      expect(lastJson(run)).toEqual(Object.fromEntries(orderValueByCountry()));
    },
  },
  {
    name: 'sed and sort: clean a messy list, dedupe it case-insensitively and number it',
    async run(session) {
      await session.upload('names.txt', '  alice\nBob  \n\nalice\nCarol\n bob\n');
      const run = await session.bash(`sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' names.txt | sort -f | uniq -i | nl -w1 -s'. ' | tee clean.txt`);
      expect(run.out.stdout).toBe('1. alice\n2. Bob\n3. Carol\n');
      expect((await session.download('clean.txt')).toString('utf8')).toBe('1. alice\n2. Bob\n3. Carol\n');
    },
  },
  {
    name: 'git: init, commit, configure identity once, commit again in the next call',
    async run(session) {
      await session.bash(`git config --global user.name "Data Bot"
git config --global user.email bot@example.com
git config --global init.defaultBranch main
mkdir -p project && cd project && git init -q
echo "# Project" > README.md
git add README.md && git commit -qm "Initial commit"`);
      const run = await session.bash(`cd project
echo "print('hi')" > main.py
git add main.py && git commit -qm "Add main.py"
git log --format='%an|%s' && git rev-list --count HEAD && git branch --show-current && git ls-files`);
      expect(run.out.stdout).toBe('Data Bot|Add main.py\nData Bot|Initial commit\n2\nmain\nREADME.md\nmain.py\n');
    },
  },
  {
    name: 'git init reports the repository in a line or two, not every .git file',
    async run(session) {
      const run = await session.bash(`git init -q repo && echo x > repo/a.txt && ls -A repo | wc -l`);
      expect(run.out.stdout).toBe('2\n');
      expect(run.out.files.some((file) => file.path === 'repo/a.txt')).toBe(true);
      expect(run.out.files.filter((file) => file.path.includes('/.git/')).length).toBeLessThanOrEqual(1);
      expect(run.text.split('\n').filter((line) => line.includes('.git/')).length).toBeLessThanOrEqual(1);
    },
  },
  {
    name: 'sqlite3: import the uploaded CSV and aggregate with SQL',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.bash(`sqlite3 shop.db <<'SQL'
.mode csv
.import sales.csv sales
.mode list
.separator |
SELECT product, SUM(units), ROUND(SUM(units * price), 2) FROM sales GROUP BY product ORDER BY product;
SQL
sqlite3 shop.db 'SELECT COUNT(*) FROM sales;'`);
      const units = sumBy(SALES, (sale) => sale.product, (sale) => sale.units);
      const revenue = sumBy(SALES, (sale) => sale.product, (sale) => sale.units * sale.price);
      const expected = [...units.keys()].sort().map((product) => `${product}|${units.get(product)}|${revenue.get(product)}`);
      const lines = run.out.stdout.trim().split('\n');
      expect(lines.slice(0, 3).map((line) => line.replace(/\.0$/, ''))).toEqual(expected);
      expect(lines[3]).toBe('24');
      expect((await session.download('shop.db')).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
    },
  },
  {
    name: 'python3 and node called from a bash pipeline',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.bash(`python3 -c "import csv,sys; print(sum(int(r['units']) for r in csv.DictReader(open('sales.csv'))))"
tail -n +2 sales.csv | cut -d, -f4 | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(s.trim().split('\\n').map(Number).reduce((a,b)=>a+b,0)))"
python3 - <<'PY'
import json
print(json.dumps({'ok': True}))
PY`);
      const units = SALES.reduce((sum, sale) => sum + sale.units, 0);
      expect(run.out.stdout).toBe(`${units}\n${units}\n{"ok": true}\n`);
    },
  },
  {
    name: 'tar and gzip an uploaded folder, list the archive, download a gzip stream',
    async run(session) {
      await session.upload('docs/a.txt', 'alpha\n');
      await session.upload('docs/sub/b.txt', 'beta beta\n');
      const run = await session.bash(`tar -czf docs.tar.gz docs && tar -tzf docs.tar.gz | sort && gzip -l docs.tar.gz | awk 'NR==2 {print ($2 > 0)}'`);
      expect(run.out.stdout).toBe('docs/\ndocs/a.txt\ndocs/sub/\ndocs/sub/b.txt\n1\n');
      expect([...(await session.download('docs.tar.gz')).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    },
  },
  {
    name: 'a run that writes 3,000 files gives a bounded result; the files are all there',
    async run(session) {
      const run = await session.bash(`mkdir -p out/a out/b
for i in $(seq 1 2000); do echo "row $i" > out/a/file_$i.txt; done
for i in $(seq 1 1000); do echo "row $i" > out/b/file_$i.txt; done
find out -type f | wc -l`);
      expect(run.out.stdout).toBe('3000\n');
      // The model reads the result: 3,000 files must not cost it hundreds of KB.
      expect(JSON.stringify(run.raw).length).toBeLessThan(32 * 1024);
      expect(run.out.files.length).toBeLessThan(200);
      // Every file is accounted for: listed one by one, or counted on a directory's summary line.
      expect(listedOrCounted(run, 'out/')).toBe(3000);
      const listing = await session.tool('list_files');
      expect(listing.structuredContent?.total).toBe(3000);
    },
  },
  {
    name: 'nproc and OMP_NUM_THREADS show the sandbox’s one CPU, not the host’s',
    async run(session) {
      const run = await session.bash(`echo "cpus=$(nproc)"
echo "omp=$OMP_NUM_THREADS"`);
      expect(run.out.stdout).toContain('cpus=1\n');
      expect(run.out.stdout).toContain('omp=1\n');
    },
  },
];

describePrograms('bash programs', cases);
