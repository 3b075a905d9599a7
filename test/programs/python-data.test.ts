/**
 * Data analysis, statistics and ML in Python, written the way a model writes them in a chat:
 * upload the user's file, read it with pandas, print the answer. Numbers are checked against the
 * same computation done here in TypeScript (test/programs/helpers/fixtures.ts).
 */
import { expect } from 'vitest';
import {
  LINE_X,
  LINE_Y,
  ORDERS,
  SALES,
  SALES_CSV,
  SAMPLE_A,
  SAMPLE_B,
  leastSquares,
  orderValueByCountry,
  pooledT,
  revenueOf,
  sumBy,
} from './helpers/fixtures.js';
import { csv, describePrograms, expectClose, lastJson, type ProgramCase } from './helpers/programs.js';

const LINE_CSV = csv(['x', 'y'], LINE_X.map((x, i) => [x, LINE_Y[i] ?? 0]));

const cases: ProgramCase[] = [
  {
    name: 'revenue by region from an uploaded CSV (groupby, sum, sort)',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.python(`import pandas as pd
import json

df = pd.read_csv('/mnt/data/sales.csv', parse_dates=['date'])
df['revenue'] = df['units'] * df['price']
by_region = df.groupby('region')['revenue'].sum().sort_values(ascending=False)
print(by_region)
print(json.dumps(by_region.round(2).to_dict()))`);
      const expected = sumBy(SALES, (sale) => sale.region, revenueOf);
      const answer = lastJson<Record<string, number>>(run);
      expect(Object.keys(answer).sort()).toEqual([...expected.keys()].sort());
      for (const [region, revenue] of expected) expectClose(answer[region], revenue, 2);
      const ranked = [...expected.entries()].sort((a, b) => b[1] - a[1]).map(([region]) => region);
      expect(Object.keys(answer)).toEqual(ranked);
    },
  },
  {
    name: 'monthly revenue with resample and a pivot table of units by region × product',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.python(`import pandas as pd, json
df = pd.read_csv('sales.csv', parse_dates=['date'])
df['revenue'] = df.units * df.price
monthly = df.set_index('date').resample('MS')['revenue'].sum()
pivot = pd.pivot_table(df, values='units', index='region', columns='product', aggfunc='sum', fill_value=0)
print(pivot)
print(json.dumps({'monthly': [round(v, 2) for v in monthly.tolist()], 'pivot': pivot.to_dict(orient='index')}))`);
      const answer = lastJson<{ monthly: number[]; pivot: Record<string, Record<string, number>> }>(run);
      const monthly = sumBy(SALES, (sale) => sale.date.slice(0, 7), revenueOf);
      expect(answer.monthly).toHaveLength(6);
      [...monthly.values()].forEach((value, i) => expectClose(answer.monthly[i], value, 2));
      for (const [key, units] of sumBy(SALES, (sale) => `${sale.region}|${sale.product}`, (sale) => sale.units)) {
        const [region = '', product = ''] = key.split('|');
        expect(answer.pivot[region]?.[product]).toBe(units);
      }
    },
  },
  {
    name: 'nested JSON export flattened with json_normalize, order value per country',
    async run(session) {
      await session.upload('orders.json', JSON.stringify(ORDERS, null, 2));
      const run = await session.python(`import json
import pandas as pd

with open('/mnt/data/orders.json') as f:
    orders = json.load(f)
lines = pd.json_normalize(orders, record_path='items', meta=['id', ['customer', 'country']])
lines['value'] = lines['qty'] * lines['price']
summary = lines.groupby('customer.country')['value'].sum()
print(f"{len(lines)} line items")
print(json.dumps(summary.to_dict()))`);
      expect(run.out.stdout).toContain('6 line items');
      expect(lastJson(run)).toEqual(Object.fromEntries(orderValueByCountry()));
    },
  },
  {
    name: 'merge two uploaded tables and find each customer’s share of spend',
    async run(session) {
      await session.upload('customers.csv', csv(['customer_id', 'name', 'tier'], [[1, 'Ada', 'gold'], [2, 'Lin', 'silver'], [3, 'Sam', 'gold']]));
      await session.upload('payments.csv', csv(['customer_id', 'amount'], [[1, 100], [2, 50], [1, 25], [3, 75], [2, 50]]));
      const run = await session.python(`import pandas as pd
customers = pd.read_csv('customers.csv')
payments = pd.read_csv('payments.csv')
merged = payments.merge(customers, on='customer_id', how='left')
spend = merged.groupby(['tier', 'name'], as_index=False)['amount'].sum()
spend['share'] = (spend['amount'] / spend['amount'].sum() * 100).round(1)
print(spend.to_csv(index=False))`);
      expect(run.out.stdout.trim().split('\n')).toEqual(['tier,name,amount,share', 'gold,Ada,125,41.7', 'gold,Sam,75,25.0', 'silver,Lin,100,33.3']);
    },
  },
  {
    name: 'an Excel workbook made elsewhere is uploaded as bytes and read sheet by sheet',
    async run(session) {
      // The "user's" workbook: built with openpyxl in one session, downloaded, uploaded into another.
      await session.python(`from openpyxl import Workbook
wb = Workbook()
q1 = wb.active
q1.title = 'Q1'
q1.append(['item', 'qty'])
for row in [('pens', 10), ('paper', 4), ('ink', 7)]:
    q1.append(row)
q2 = wb.create_sheet('Q2')
q2.append(['item', 'qty'])
for row in [('pens', 3), ('ink', 12)]:
    q2.append(row)
wb.save('made.xlsx')`);
      const workbook = await session.download('made.xlsx');
      expect(workbook.subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
      await session.upload('uploads/inventory.xlsx', workbook);
      const run = await session.python(`import pandas as pd, json
sheets = pd.read_excel('/mnt/data/uploads/inventory.xlsx', sheet_name=None)
combined = pd.concat(sheets, names=['quarter', 'row']).reset_index(level='quarter')
totals = combined.groupby('item')['qty'].sum()
print(json.dumps({'sheets': list(sheets), 'totals': totals.to_dict()}))`);
      expect(lastJson(run)).toEqual({ sheets: ['Q1', 'Q2'], totals: { ink: 19, paper: 4, pens: 13 } });
    },
  },
  {
    name: 'describe() and correlation of an uploaded table',
    async run(session) {
      await session.upload('line.csv', LINE_CSV);
      const run = await session.python(`import pandas as pd, json
df = pd.read_csv('line.csv')
stats = df.describe()
print(stats)
print(json.dumps({'mean_y': stats.loc['mean', 'y'], 'max_x': stats.loc['max', 'x'], 'corr': df['x'].corr(df['y'])}))`);
      const answer = lastJson<{ mean_y: number; max_x: number; corr: number }>(run);
      expectClose(answer.mean_y, LINE_Y.reduce((a, b) => a + b, 0) / LINE_Y.length, 9);
      expect(answer.max_x).toBe(20);
      expectClose(answer.corr, Math.sqrt(leastSquares(LINE_X, LINE_Y).r2), 9);
    },
  },
  {
    name: 'statsmodels OLS with a formula: coefficients and R²',
    async run(session) {
      await session.upload('line.csv', LINE_CSV);
      const run = await session.python(`import pandas as pd
import statsmodels.formula.api as smf
import json

df = pd.read_csv('/mnt/data/line.csv')
model = smf.ols('y ~ x', data=df).fit()
print(model.summary())
print(json.dumps({'intercept': model.params['Intercept'], 'slope': model.params['x'], 'r2': model.rsquared, 'n': int(model.nobs)}))`);
      const expected = leastSquares(LINE_X, LINE_Y);
      const answer = lastJson<{ intercept: number; slope: number; r2: number; n: number }>(run);
      expectClose(answer.slope, expected.slope, 9);
      expectClose(answer.intercept, expected.intercept, 9);
      expectClose(answer.r2, expected.r2, 9);
      expect(answer.n).toBe(20);
      expect(run.out.stdout).toContain('OLS Regression Results');
    },
  },
  {
    name: 'scikit-learn: a linear model recovers exact coefficients, a classifier scores iris',
    async run(session) {
      const run = await session.python(`import numpy as np, json
from sklearn.linear_model import LinearRegression
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

X = np.array([[1, 2], [2, 1], [3, 5], [4, 3], [5, 8], [6, 2]], dtype=float)
y = 4 + 2 * X[:, 0] - 1.5 * X[:, 1]
reg = LinearRegression().fit(X, y)

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.3, random_state=0, stratify=iris.target)
tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)
print(json.dumps({'coef': reg.coef_.tolist(), 'intercept': reg.intercept_, 'r2': reg.score(X, y),
                  'train': tree.score(X_train, y_train), 'test': tree.score(X_test, y_test), 'n_test': len(y_test)}))`);
      const answer = lastJson<{ coef: number[]; intercept: number; r2: number; train: number; test: number; n_test: number }>(run);
      expectClose(answer.coef[0], 2, 9);
      expectClose(answer.coef[1], -1.5, 9);
      expectClose(answer.intercept, 4, 9);
      expectClose(answer.r2, 1, 9);
      expect(answer.n_test).toBe(45);
      expect(answer.train).toBeGreaterThanOrEqual(0.95);
      expect(answer.test).toBeGreaterThanOrEqual(0.9);
    },
  },
  {
    name: 'KMeans on three well-separated groups finds clusters of 5, 5 and 5',
    async run(session) {
      const run = await session.python(`import numpy as np, json
from sklearn.cluster import KMeans
centres = np.array([[0, 0], [10, 10], [0, 10]])
offsets = np.array([[0, 0], [0.3, 0], [0, 0.3], [-0.3, 0], [0, -0.3]])
points = np.vstack([c + offsets for c in centres])
km = KMeans(n_clusters=3, n_init=10, random_state=42).fit(points)
centers = sorted(map(lambda c: [round(v, 6) + 0.0 for v in c], km.cluster_centers_.tolist()))
print(json.dumps({'sizes': sorted(np.bincount(km.labels_).tolist()), 'centers': centers}))`);
      expect(lastJson(run)).toEqual({ sizes: [5, 5, 5], centers: [[0, 0], [0, 10], [10, 10]] });
    },
  },
  {
    name: 'scipy: a two-sample t-test and a minimised Rosenbrock function',
    async run(session) {
      const run = await session.python(`from scipy import stats, optimize
import json
a = [${SAMPLE_A.join(', ')}]
b = [${SAMPLE_B.join(', ')}]
t, p = stats.ttest_ind(a, b)
res = optimize.minimize(optimize.rosen, x0=[-1.2, 1.0], method='BFGS')
print(json.dumps({'t': float(t), 'p': float(p), 'x': res.x.round(4).tolist(), 'success': bool(res.success)}))`);
      const answer = lastJson<{ t: number; p: number; x: number[]; success: boolean }>(run);
      expectClose(answer.t, pooledT(SAMPLE_A, SAMPLE_B), 9);
      expect(answer.p).toBeLessThan(0.001);
      expect(answer.p).toBeGreaterThan(0);
      expect(answer).toMatchObject({ x: [1, 1], success: true });
    },
  },
  {
    name: 'sympy solves, differentiates and integrates symbolically',
    async run(session) {
      const run = await session.python(`import sympy as sp
x = sp.symbols('x')
roots = sp.solve(x**2 - 5*x + 6, x)
print('roots:', roots)
print('derivative:', sp.diff(sp.sin(x) * x**2, x))
print('integral:', sp.integrate(x * sp.exp(x), (x, 0, 1)))
sp.factor(x**3 - x)`);
      expect(run.out.stdout).toContain('roots: [2, 3]');
      expect(run.out.stdout).toContain('derivative: x**2*cos(x) + 2*x*sin(x)');
      expect(run.out.stdout).toContain('integral: 1\n');
      expect(run.out.value).toBe('x*(x - 1)*(x + 1)');
    },
  },
  {
    name: 'numpy linear algebra: a 3×3 system and eigenvalues',
    async run(session) {
      const run = await session.python(`import numpy as np
A = np.array([[3, 1, -1], [2, 4, 1], [-1, 2, 5]], dtype=float)
b = np.array([4, 1, 1], dtype=float)
x = np.linalg.solve(A, b)
print('x =', np.round(x, 6).tolist())
print('residual ok:', bool(np.allclose(A @ x, b)))
print('eig sym:', np.round(np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]])), 6).tolist())`);
      // 3x + y - z = 4, 2x + 4y + z = 1, -x + 2y + 5z = 1  →  x = 2, y = -1, z = 1
      expect(run.out.stdout).toContain('x = [2.0, -1.0, 1.0]');
      expect(run.out.stdout).toContain('residual ok: True');
      expect(run.out.stdout).toContain('eig sym: [1.0, 3.0]');
    },
  },
  {
    name: 'networkx: shortest weighted route between cities',
    async run(session) {
      const run = await session.python(`import networkx as nx, json
G = nx.Graph()
G.add_weighted_edges_from([('A', 'B', 4), ('A', 'C', 2), ('C', 'B', 1), ('B', 'D', 5), ('C', 'D', 8), ('D', 'E', 3), ('C', 'E', 10)])
path = nx.shortest_path(G, 'A', 'E', weight='weight')
length = nx.shortest_path_length(G, 'A', 'E', weight='weight')
print(json.dumps({'path': path, 'length': length, 'degree_C': G.degree['C']}))`);
      expect(lastJson(run)).toEqual({ path: ['A', 'C', 'B', 'D', 'E'], length: 11, degree_C: 4 });
    },
  },
  {
    name: 'an OpenDocument spreadsheet (.ods) written and read back with pandas',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.python(`import pandas as pd
df = pd.read_csv('sales.csv')
df.groupby('region', as_index=False)['units'].sum().to_excel('units.ods', engine='odf', index=False, sheet_name='Units')
back = pd.read_excel('units.ods', engine='odf', sheet_name='Units')
print(back.to_csv(index=False))`);
      const expected = [...sumBy(SALES, (sale) => sale.region, (sale) => sale.units).entries()].sort((a, b) => a[0].localeCompare(b[0]));
      expect(run.out.stdout.trim().split('\n')).toEqual(['region,units', ...expected.map(([region, units]) => `${region},${units}`)]);
      expect((await session.download('units.ods')).subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
    },
  },
  {
    name: 'df.style renders an HTML table (jinja2) with the highlighted maximum',
    async run(session) {
      const run = await session.python(`import pandas as pd
df = pd.DataFrame({'team': ['red', 'blue', 'green'], 'score': [7, 12, 9]})
html = df.style.highlight_max(subset=['score'], color='yellow').hide(axis='index').to_html()
open('scores.html', 'w').write(html)
print(len(html) > 0, html.count('<tr>'))`);
      expect(run.out.stdout).toBe('True 4\n');
      const html = (await session.download('scores.html')).toString('utf8');
      expect(html).toContain('background-color: yellow');
      expect(html).toMatch(/>12</);
    },
  },
];

describePrograms('python data programs', cases);
