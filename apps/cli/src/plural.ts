/**
 * Formats a count with its noun, adding "s" unless the count is 1: `1 message`, `2 messages`.
 * Pass `many` for a noun with another plural form, such as `reply` and `replies`.
 */
export function plural(count: number, noun: string, many = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : many}`;
}
