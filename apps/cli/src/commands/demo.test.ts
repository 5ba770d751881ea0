import { expect, test } from 'vitest';
import { formatSeconds } from './demo.js';

test.each([
  ['a wait ahead', 1549, '1.5 s'],
  ['no wait', 0, '0.0 s'],
  ['negative zero', -0, '0.0 s'],
  // A slot that passed while the status was read, by less than the display precision or more.
  ['a slot just passed', -30, '0.0 s'],
  ['a slot long passed', -1200, '0.0 s'],
  ['an unknown time', Number.NaN, '0.0 s'],
])('formatSeconds shows %s', (_case, ms, text) => {
  expect(formatSeconds(ms)).toBe(text);
});
