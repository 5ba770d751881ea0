import { readFile } from 'node:fs/promises';

/** Reads a JSON Lines file; an unparsable line is an error naming the file and line number. */
export async function readJsonLines(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  const records: unknown[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${path}:${index + 1}: not valid JSON (${reason}); write one JSON object per line`,
      );
    }
  }
  return records;
}
