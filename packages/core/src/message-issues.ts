import type { z } from 'zod';
import type { ValidationIssue } from './errors.js';

const URL_OR_PATH_KEYS = new Set(['path', 'href', 'url', 'file', 'filePath']);

// Names of the types that zod reports in `expected`, as error messages write them.
const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  object: 'an object',
  record: 'an object',
  array: 'an array',
  date: 'a Date',
  number: 'a number',
  boolean: 'a boolean',
};

/**
 * Turns a zod issue of `messageSchema` into a ValidationIssue that names the field and the limit
 * it broke. A value of the wrong type is described by its type only, never by its content.
 */
export function toValidationIssue(issue: z.core.$ZodIssue): ValidationIssue {
  const path = formatPath(issue.path);

  if (issue.code === 'unrecognized_keys') {
    const isAttachment = issue.path[0] === 'attachments';
    if (isAttachment && issue.keys.some((key) => URL_OR_PATH_KEYS.has(key))) {
      return {
        path,
        message: `attachments given as file paths or URLs (${issue.keys.join(', ')}) are not accepted; put the file's bytes in content as base64`,
      };
    }
    return {
      path,
      message: `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; remove it`,
    };
  }
  if (issue.code === 'invalid_type') {
    return { path, message: describeWrongType(path, [issue.expected], issue.input) };
  }
  if (issue.code === 'invalid_union') return fromUnionIssue(issue, path);
  return { path, message: issue.message };
}

// A union, such as an address (string or object) or a date (string or Date), fails as a whole
// when the value has neither type. When one option failed deeper inside the value, as on
// `{ address: 5 }`, that option's first issue is the useful one.
function fromUnionIssue(issue: z.core.$ZodIssueInvalidUnion, path: string): ValidationIssue {
  const options = issue.errors;
  const isTypeMismatch = (issues: readonly z.core.$ZodIssue[]) =>
    issues.length === 1 && issues[0]?.code === 'invalid_type' && issues[0].path.length === 0;

  if (options.length > 0 && options.every(isTypeMismatch)) {
    const expected = options.map((issues) => (issues[0] as z.core.$ZodIssueInvalidType).expected);
    return { path, message: describeWrongType(path, expected, issue.input) };
  }

  const deeper = options.filter((issues) => issues.length > 0 && !isTypeMismatch(issues));
  const [first] = deeper[0] ?? [];
  if (deeper.length === 1 && first) {
    return toValidationIssue({ ...first, path: [...issue.path, ...first.path] });
  }
  return { path, message: issue.message };
}

function describeWrongType(path: string, expected: readonly string[], input: unknown): string {
  const field = path || 'message';
  if (input === undefined) return `${field} is required`;

  const names = [...new Set(expected.map((type) => TYPE_NAMES[type] ?? type))];
  return `${field} must be ${names.join(' or ')}, got ${typeOf(input)}`;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      return index === 0 ? String(part) : `.${String(part)}`;
    })
    .join('');
}
