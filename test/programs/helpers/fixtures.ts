/**
 * The data a user would upload, fixed and small, and the answers worked out here in TypeScript
 * from the same rows, so a program's numbers are checked against an independent computation.
 */
import { csv } from './programs.js';

export interface Sale {
  readonly date: string;
  readonly region: string;
  readonly product: string;
  readonly units: number;
  readonly price: number;
}

const REGIONS = ['North', 'South', 'East', 'West'] as const;
const PRODUCTS = ['Widget', 'Gadget', 'Doohickey'] as const;
const PRICES = [9.5, 12, 20] as const;

/** 24 sales over January–June 2024: four per month, regions and products in turn. */
export const SALES: readonly Sale[] = Array.from({ length: 24 }, (_, i) => ({
  date: `2024-${String(Math.floor(i / 4) + 1).padStart(2, '0')}-${String(((i * 3) % 28) + 1).padStart(2, '0')}`,
  region: REGIONS[i % 4] ?? 'North',
  product: PRODUCTS[i % 3] ?? 'Widget',
  units: ((i * 7) % 13) + 1,
  price: PRICES[i % 3] ?? 1,
}));

export const SALES_CSV = csv(
  ['date', 'region', 'product', 'units', 'price'],
  SALES.map((sale) => [sale.date, sale.region, sale.product, sale.units, sale.price]),
);

export function revenueOf(sale: Sale): number {
  return sale.units * sale.price;
}

/** Sum of `value` per key, keys in first-seen order. */
export function sumBy<T>(rows: readonly T[], key: (row: T) => string, value: (row: T) => number): Map<string, number> {
  const sums = new Map<string, number>();
  for (const row of rows) sums.set(key(row), (sums.get(key(row)) ?? 0) + value(row));
  return sums;
}

/** Points of a noisy line, y ≈ 3 + 2x, with fixed noise. */
export const LINE_X: readonly number[] = Array.from({ length: 20 }, (_, i) => i + 1);
export const LINE_Y: readonly number[] = LINE_X.map((x, i) => 3 + 2 * x + [0.5, -0.3, 0.8, -0.6, 0.1][i % 5]!);

/** Least-squares slope, intercept and R² of y on x (closed form). */
export function leastSquares(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const y = ys[i] ?? 0;
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
    syy += (y - meanY) ** 2;
  });
  const slope = sxy / sxx;
  return { slope, intercept: meanY - slope * meanX, r2: (sxy * sxy) / (sxx * syy) };
}

/** Two fixed samples for a t-test, and the pooled-variance t statistic. */
export const SAMPLE_A: readonly number[] = [12.1, 11.8, 12.6, 12.9, 11.5, 12.3, 12.0, 12.7];
export const SAMPLE_B: readonly number[] = [13.0, 13.4, 12.8, 13.9, 13.1, 13.6, 12.9, 13.3];

export function pooledT(a: readonly number[], b: readonly number[]): number {
  const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ss = (xs: readonly number[]): number => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0);
  const pooled = (ss(a) + ss(b)) / (a.length + b.length - 2);
  return (mean(a) - mean(b)) / Math.sqrt(pooled * (1 / a.length + 1 / b.length));
}

/** A nested JSON export, as an API would give it: orders with a customer object and line items. */
export const ORDERS = [
  { id: 1, customer: { name: 'Ada', country: 'UK' }, items: [{ sku: 'A1', qty: 2, price: 5 }, { sku: 'B2', qty: 1, price: 12.5 }] },
  { id: 2, customer: { name: 'Lin', country: 'CN' }, items: [{ sku: 'A1', qty: 5, price: 5 }] },
  { id: 3, customer: { name: 'Sam', country: 'US' }, items: [{ sku: 'C3', qty: 3, price: 7.25 }, { sku: 'A1', qty: 1, price: 5 }] },
  { id: 4, customer: { name: 'Ana', country: 'UK' }, items: [{ sku: 'B2', qty: 4, price: 12.5 }] },
] as const;

/** Order value per customer country. */
export function orderValueByCountry(): Map<string, number> {
  const lines = ORDERS.flatMap((order) => order.items.map((item) => ({ country: order.customer.country, value: item.qty * item.price })));
  return sumBy(lines, (line) => line.country, (line) => line.value);
}
