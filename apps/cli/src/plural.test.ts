import { expect, test } from 'vitest';
import { plural } from './plural.js';

test.each([
  [0, '0 dead letters'],
  [1, '1 dead letter'],
  [2, '2 dead letters'],
])('plural counts %i', (count, text) => {
  expect(plural(count, 'dead letter')).toBe(text);
});
