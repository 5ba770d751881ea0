import { expect, test } from 'vitest';
import { ConfigError } from './errors.js';
import { connectRedis, redisAddress, redisUrlProblem } from './redis.js';

test.each([
  ['redis://127.0.0.1:6380', '127.0.0.1:6380'],
  ['redis://:secret@redis.internal:6379/2', 'redis.internal:6379'],
  ['rediss://user:secret@redis.internal', 'redis.internal:6379'],
  ['redis://[::1]:7000', '[::1]:7000'],
  ['redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001', '10.0.0.1:7000, 10.0.0.2:7001'],
])('address of %s is %s', (url, address) => {
  expect(redisAddress(url)).toBe(address);
  expect(redisAddress(url)).not.toContain('secret');
});

test.each([
  ['', 'must start with redis://'],
  ['http://127.0.0.1:6379', 'must start with redis://'],
  ['redis://:secret@127.0.0.1:notaport', 'is not a valid URL'],
  ['redis://user:secret@[bad', 'is not a valid URL'],
  ['redis://:secret@127.0.0.1:6379/abc', 'is not a number'],
  ['redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:99999', 'is not host:port'],
  // An unencoded / in the password cuts the URL there; no part of the password may show.
  ['redis://user:12/secret@127.0.0.1:6379', 'is not a number'],
  ['redis+cluster://user:sec/secret@10.0.0.1:7000', 'is not host:port'],
])('URL %j is rejected', (url, problem) => {
  expect(redisUrlProblem(url)).toContain(problem);
  expect(redisUrlProblem(url)).not.toContain('secret');
  expect(() => connectRedis(url, { lazyConnect: true })).toThrow(ConfigError);
});

test.each([
  'redis://127.0.0.1:6379',
  'rediss://user:secret@redis.internal/2',
  'redis+cluster://10.0.0.1:7000,10.0.0.2:7001',
])('URL %s is accepted', (url) => {
  expect(redisUrlProblem(url)).toBeUndefined();
});
