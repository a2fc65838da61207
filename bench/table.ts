/** One line of a benchmark table. */
export interface BenchRow {
  readonly benchmark: string;
  readonly value: string;
  readonly unit: string;
}

export function printTable(title: string, rows: readonly BenchRow[]): void {
  const headers: BenchRow = { benchmark: 'benchmark', value: 'value', unit: 'unit' };
  const all = [headers, ...rows];
  const width = (key: keyof BenchRow): number => Math.max(...all.map((r) => r[key].length));
  const line = (r: BenchRow): string =>
    `| ${r.benchmark.padEnd(width('benchmark'))} | ${r.value.padStart(width('value'))} | ${r.unit.padEnd(width('unit'))} |`;
  const rule = `|${'-'.repeat(width('benchmark') + 2)}|${'-'.repeat(width('value') + 2)}|${'-'.repeat(width('unit') + 2)}|`;
  process.stdout.write(`\n${title}\n\n${line(headers)}\n${rule}\n${rows.map(line).join('\n')}\n`);
}
