/** The bench's rows and how they are printed: executors side by side, then each row's note. */

export interface BenchRow {
  executor: string;
  language: string;
  measure: string;
  p50: string;
  p99: string;
  note: string;
}

type Cells = string[];

function printAligned(lines: Cells[]): void {
  const widths = (lines[0] ?? []).map((_, column) => Math.max(...lines.map((cells) => (cells[column] ?? '').length)));
  for (const [index, cells] of lines.entries()) {
    console.log(cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}

/**
 * One line per language and measure, with each executor's two numbers next to each other
 * ("p50 / rate" and "p99 / cost"), then the notes, then how each executor was run.
 */
export function printBenchTable(rows: readonly BenchRow[], howRun: ReadonlyMap<string, string>): void {
  const executors = [...new Set(rows.map((row) => row.executor))];
  const measures = [...new Map(rows.map((row) => [`${row.language}\u0000${row.measure}`, row])).values()];
  const header = ['language', 'measure', ...executors.flatMap((executor) => [`${executor}: p50 / rate`, `${executor}: p99 / cost`])];
  const lines: Cells[] = [header];
  for (const { language, measure } of measures) {
    const cells = [language, measure];
    for (const executor of executors) {
      const row = rows.find((candidate) => candidate.executor === executor && candidate.language === language && candidate.measure === measure);
      cells.push(row?.p50 ?? '-', row?.p99 ?? '-');
    }
    lines.push(cells);
  }
  printAligned(lines);
  console.log('\nNotes:');
  for (const row of rows) if (row.note) console.log(`  ${row.language}, ${row.measure} (${row.executor}): ${row.note}`);
  console.log('\nHow each executor was run:');
  for (const executor of executors) console.log(`  ${executor}: ${howRun.get(executor) ?? 'on this host'}`);
}
