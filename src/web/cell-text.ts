/**
 * The text of one table cell on the page. Floats are shown as pandas shows them (at most six
 * decimals, trailing zeros dropped), so 2.72 does not read 2.7199999999999998; the exact value goes
 * in the cell's tooltip. Very small or very large floats keep six significant digits in exponent form.
 */
export type Cell = string | number | boolean | null;

const DECIMALS = 6;

export function cellText(cell: Cell): string {
  if (cell === null) return '';
  if (typeof cell !== 'number' || Number.isInteger(cell) || !Number.isFinite(cell)) return String(cell);
  const size = Math.abs(cell);
  if (size >= 10 ** -(DECIMALS - 2) && size < 1e15) return trimZeros(cell.toFixed(DECIMALS));
  const [mantissa = '', exponent = ''] = cell.toExponential(DECIMALS - 1).split('e');
  return `${trimZeros(mantissa)}e${exponent}`;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
