/**
 * Issue 13's targets and the bench's figures next to them: each figure is judged met / not met
 * against its target (or has none), and printed as one table.
 */

export interface Target {
  /** "at-most": the figure must not exceed the limit (latency, bytes); "at-least": a rate. */
  readonly comparison: 'at-most' | 'at-least';
  readonly limit: number;
}

export interface Figure {
  readonly label: string;
  /** null: the case did not run or could not be measured (the note says why). */
  readonly value: number | null;
  readonly unit: string;
  readonly target?: Target;
  readonly note?: string;
}

export type Verdict = 'met' | 'not met' | 'no target' | 'not measured';

export function verdictFor(figure: Figure): Verdict {
  if (figure.value === null || Number.isNaN(figure.value)) return 'not measured';
  if (!figure.target) return 'no target';
  const { comparison, limit } = figure.target;
  return (comparison === 'at-most' ? figure.value <= limit : figure.value >= limit) ? 'met' : 'not met';
}

function formatValue(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return '-';
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export function formatTarget(figure: Figure): string {
  if (!figure.target) return '-';
  return `${figure.target.comparison === 'at-most' ? '≤' : '≥'} ${formatValue(figure.target.limit, figure.unit)}`;
}

/** The figures as aligned text lines: label, figure, target, verdict, then the notes. */
export function targetTableLines(figures: readonly Figure[]): string[] {
  const rows = [['case', 'figure', 'issue-13 target', 'verdict'], ...figures.map((figure) => [figure.label, formatValue(figure.value, figure.unit), formatTarget(figure), verdictFor(figure)])];
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  const lines = rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '));
  const notes = figures.filter((figure) => figure.note).map((figure) => `  ${figure.label}: ${figure.note}`);
  return notes.length > 0 ? [...lines, '', 'Notes:', ...notes] : lines;
}

export function countVerdicts(figures: readonly Figure[]): { met: number; notMet: number } {
  const verdicts = figures.map(verdictFor);
  return { met: verdicts.filter((v) => v === 'met').length, notMet: verdicts.filter((v) => v === 'not met').length };
}
