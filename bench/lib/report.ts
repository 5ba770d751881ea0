/** Output of a benchmark: aligned text tables for people and one JSON line at the end for tools. */

export type Cell = string | number | boolean | undefined;

export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Prints a table with a header row. Numbers are right-aligned and text is left-aligned. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly Cell[][],
): void {
  const text = rows.map((row) => row.map(formatCell));
  const widths = header.map((name, column) =>
    Math.max(name.length, ...text.map((row) => (row[column] ?? '').length)),
  );
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === 'number'));
  const format = (cells: readonly string[], alignNumbers: boolean) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return alignNumbers && numeric[column] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();

  printLine();
  printLine(title);
  printLine(format(header, false));
  printLine(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of text) printLine(format(row, true));
}

/** Prints the benchmark's figures as one JSON object, which must be the last line of its output. */
export function printFigures(figures: Record<string, unknown>): void {
  printLine();
  printLine(JSON.stringify(figures));
}

function formatCell(cell: Cell): string {
  if (cell === undefined) return '';
  if (typeof cell === 'number') return Number.isInteger(cell) ? String(cell) : cell.toFixed(2);
  return String(cell);
}
