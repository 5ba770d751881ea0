import { expect, test } from 'vitest';
import { plural } from './plural.js';

test.each([
  [0, '0 dead letters'],
  [1, '1 dead letter'],
  [2, '2 dead letters'],
])('plural counts %i', (count, text) => {
  expect(plural(count, 'dead letter')).toBe(text);
});

test.each([
  [1, '1 throttling reply'],
  [2, '2 throttling replies'],
])('plural irregular %i', (count, text) => {
  expect(plural(count, 'throttling reply', 'throttling replies')).toBe(text);
});
