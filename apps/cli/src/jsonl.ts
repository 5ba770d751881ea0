import { readFile } from 'node:fs/promises';
import { ValidationError, type ValidationIssue } from '@postroom/core';

/** The records of a JSON Lines file, with the 1-based line number of each record. */
export interface JsonLines {
  path: string;
  records: unknown[];
  lineNumbers: number[];
}

/**
 * Reads a JSON Lines file and skips blank lines. A missing file or an unparsable line is an error
 * naming the file and, for a line, its number. The parser's message is left out, because it
 * quotes part of the line, which may be a message body.
 */
export async function readJsonLines(path: string): Promise<JsonLines> {
  const text = await readText(path);
  const records: unknown[] = [];
  const lineNumbers: number[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      throw new Error(`${path}:${index + 1}: not valid JSON; write one JSON object per line`);
    }
    lineNumbers.push(index + 1);
  }
  return { path, records, lineNumbers };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${path}: file not found; give the path of a JSON Lines file`);
    }
    throw error;
  }
}

/**
 * Rewrites the batch indexes of a ValidationError from `sendMany` (`[1].subject`) as the file
 * and line of each record (`messages.jsonl:2 subject`), so every error names the 1-based line.
 */
export function issuesByLine(lines: JsonLines, error: ValidationError): ValidationError {
  const issues = error.issues.map((issue): ValidationIssue => {
    const match = /^\[(\d+)\]\.?/.exec(issue.path);
    const lineNumber = match ? lines.lineNumbers[Number(match[1])] : undefined;
    if (!match || lineNumber === undefined) return issue;
    const field = issue.path.slice(match[0].length);
    return {
      path: `${lines.path}:${lineNumber}${field ? ` ${field}` : ''}`,
      message: issue.message,
    };
  });
  return new ValidationError(`invalid messages in ${lines.path}, nothing was enqueued`, issues);
}
