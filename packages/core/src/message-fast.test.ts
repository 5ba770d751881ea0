import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ValidationError } from './errors.js';
import { messageSchema, parseMessage } from './message.js';
import { parseMessageFast } from './message-fast.js';

// Each arbitrary mixes valid values, values at the limits and invalid ones, so that a generated
// message is sometimes valid and sometimes wrong in one or several fields.

const FAR_FUTURE_MS = Date.UTC(2090, 0, 1);

const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ maxLength, unit: 'binary' }),
    fc.string({ maxLength, unit: 'binary-ascii' }),
  );

const stringOfLength = (length: number) => fc.constant('s'.repeat(length));

const wrongType = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.constant(new Date(0)),
);

const domain = fc.constantFrom(
  'example.com',
  'Contoso.EXAMPLE',
  'bücher.example',
  'xn--bcher-kva.example',
  'localhost',
  '-bad-.example',
  'a..example',
  `${'d'.repeat(63)}.example`,
  `${'d'.repeat(64)}.example`,
  '0x7f.1',
  '',
);

const localPart = fc.oneof(
  fc.constantFrom(
    'ada',
    'first.last',
    "o'brien+tag",
    '"quoted name"',
    '"bad"quote"',
    'a b',
    'two@',
    '.dot',
    'josé',
    'l'.repeat(64),
    'l'.repeat(65),
    'é'.repeat(32),
    'é'.repeat(33),
  ),
  fc.string({ minLength: 1, maxLength: 8 }),
);

const bareAddress = fc.oneof(
  fc.tuple(localPart, domain).map(([local, host]) => `${local}@${host}`),
  fc.emailAddress(),
  fc.constantFrom('no-at-sign', 'two@@example.com', '@example.com', 'a@', 'a@b@example.com'),
);

const displayName = fc.oneof(
  fc.constantFrom('Ada', 'Ada Lovelace', '"Ada, L."', '', 'Eve\r\nBcc: x@example.net', 'nul\0'),
  text(12),
);

const address = fc.oneof(
  { weight: 4, arbitrary: bareAddress },
  fc.tuple(displayName, bareAddress).map(([name, mail]) => `${name} <${mail}>`),
  fc.tuple(displayName, bareAddress).map(([name, mail]) => ({ name, address: mail })),
  bareAddress.map((mail) => ({ address: mail })),
  bareAddress.map((mail) => ({ name: undefined, address: mail })),
  bareAddress.map((mail) => ({ address: mail, extra: 1 })),
  fc.constant({ name: 'No Address' }),
  fc.record({ name: wrongType, address: bareAddress }),
  fc.record({ address: wrongType }),
  wrongType,
);

const addressList = fc.oneof(
  { weight: 3, arbitrary: fc.array(address, { maxLength: 4 }) },
  { weight: 2, arbitrary: address },
  fc.constant(undefined),
);

const subject = fc.oneof(
  { weight: 4, arbitrary: text(40) },
  stringOfLength(0),
  stringOfLength(1),
  stringOfLength(998),
  stringOfLength(999),
  fc.constantFrom('Hi\r\nBcc: x@example.net', 'line\nbreak', 'nul\0byte', 'Grüße ✉'),
  fc.constant(undefined),
  wrongType,
);

const body = fc.oneof({ weight: 4, arbitrary: text(60) }, fc.constant(undefined), wrongType);

const headerName = fc.oneof(
  fc.constantFrom(
    'X-Campaign',
    'X-Long',
    'List-Unsubscribe',
    'Bcc',
    'bcc',
    'Message-ID',
    'content-type',
    'Constructor',
    'toString',
    'X Space',
    'X:Colon',
    'X-Grüße',
    'X-Bad\r\nBcc',
    '',
    '1',
    '__proto__',
  ),
  fc.string({ minLength: 1, maxLength: 10 }),
);

const headerValue = fc.oneof(
  { weight: 3, arbitrary: text(30) },
  stringOfLength(990),
  stringOfLength(991),
  fc.constantFrom('a\r\nBcc: x@example.net', 'nul\0', ''),
  wrongType,
);

function headerRecord(entries: [string, unknown][], prototype: object | null): object {
  const record = Object.create(prototype) as Record<string, unknown>;
  for (const [name, value] of entries) {
    Object.defineProperty(record, name, { value, enumerable: true, writable: true });
  }
  return record;
}

const headers = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(headerName, headerValue, { maxKeys: 4 }) },
  fc
    .array(fc.tuple(headerName, headerValue), { maxLength: 3 })
    .map((entries) => headerRecord(entries, null)),
  fc
    .array(fc.tuple(headerName, headerValue), { maxLength: 3 })
    .map((entries) => headerRecord(entries, Object.prototype)),
  fc.constant(JSON.parse('{"__proto__": "x", "X-Ok": "1"}')),
  fc.constant(JSON.parse('{"__proto__": {"a": 1}, "X-Ok": "1"}')),
  fc.constant({ [Symbol('header')]: 'x' }),
  fc.constant(Object.defineProperty({ 'X-Ok': '1' }, 'X-Hidden', { value: 'h' })),
  fc.constant(new Map([['X-Ok', '1']])),
  fc.constant(['X-Ok']),
  fc.constant(undefined),
  wrongType,
);

const base64 = fc
  .uint8Array({ maxLength: 24 })
  .map((bytes) => Buffer.from(bytes).toString('base64'));

const attachment = fc.record(
  {
    filename: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('invoice.pdf', 'a', 'Grüße.txt') },
      stringOfLength(255),
      stringOfLength(256),
      fc.constantFrom('', 'dir/file.txt', 'dir\\file.txt', 'a\r\nb.txt'),
      text(12),
      wrongType,
    ),
    content: fc.oneof(
      { weight: 3, arbitrary: base64 },
      fc.constantFrom('', 'QQ', 'QQ===', 'Q=Q=', 'not base64!', 'QUJD\nREVG', 'QUJD-_x='),
      wrongType,
    ),
    contentType: fc.oneof(
      fc.constantFrom(
        'application/pdf',
        'text/plain; charset=utf-8',
        'image/svg+xml',
        'pdf',
        'text/plain\r\nBcc: x',
        'a/b;\u2028',
        'message/rfc822',
        'Multipart/Mixed; boundary=x',
      ),
      fc.constant(undefined),
      wrongType,
    ),
    contentId: fc.oneof(
      fc.constantFrom('logo', 'part1.abc@example.com', '<logo>', 'has space', ''),
      stringOfLength(250),
      stringOfLength(251),
      fc.constant(undefined),
      wrongType,
    ),
    disposition: fc.oneof(
      fc.constantFrom('attachment', 'inline', 'Inline', 'other'),
      fc.constant(undefined),
      wrongType,
    ),
    path: fc.constantFrom('/etc/passwd'),
    url: fc.constantFrom('https://example.com/a.pdf'),
  },
  { requiredKeys: [] },
);

const attachments = fc.oneof(
  { weight: 4, arbitrary: fc.array(attachment, { maxLength: 3 }) },
  fc.constant(Array.from({ length: 250 }, () => ({ filename: 'a.txt', content: 'QQ==' }))),
  fc.constant(Array.from({ length: 251 }, () => ({ filename: 'a.txt', content: 'QQ==' }))),
  fc.constant([{ filename: 'a.txt', content: 'QQ==' }, undefined]),
  fc.constant(undefined),
  wrongType,
);

const dateTime = fc.oneof(
  fc
    .date({
      min: new Date(FAR_FUTURE_MS),
      max: new Date(Date.UTC(2099, 0, 1)),
      noInvalidDate: true,
    })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    '2091-03-01T10:00:00Z',
    '2091-03-01T10:00:00+02:00',
    '2091-03-01T10:00:00.123456-05:30',
    '2092-02-29T00:00:00Z',
    '2091-02-29T00:00:00Z',
    '2091-02-30T00:00:00Z',
    '2091-03-01T10:00:00',
    '2091-03-01',
    '2020-01-01T00:00:00Z',
    'tomorrow',
  ),
  fc.constant(new Date(FAR_FUTURE_MS + 86_400_000)),
  fc.constant(new Date(Number.NaN)),
  fc.constant(undefined),
  fc.integer(),
);

const idempotencyKey = fc.oneof(
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
  stringOfLength(256),
  stringOfLength(257),
  fc.constantFrom('', 'has space', 'order-1', 'ключ'),
  fc.constant(undefined),
  wrongType,
);

const tag = fc.oneof(
  fc.constantFrom('invoice', 'a.b:c-d_e', 't'.repeat(64), 't'.repeat(65), 'bad tag', ''),
  wrongType,
);

const tags = fc.oneof(
  { weight: 3, arbitrary: fc.array(tag, { maxLength: 3 }) },
  fc.constant(Array.from({ length: 20 }, () => 'tag')),
  fc.constant(Array.from({ length: 21 }, () => 'tag')),
  fc.constant(undefined),
  fc.constant('invoice'),
);

const fields = {
  from: address,
  to: addressList,
  cc: addressList,
  bcc: addressList,
  replyTo: addressList,
  subject,
  text: body,
  html: body,
  headers,
  attachments,
  priority: fc.oneof(
    fc.constantFrom('high', 'normal', 'low', 'urgent', 'HIGH'),
    fc.constant(undefined),
    wrongType,
  ),
  notBefore: dateTime,
  expiresAt: dateTime,
  idempotencyKey,
  tags,
};

// One message in ten also has an unknown key.
const generatedMessage = fc
  .tuple(fc.record(fields, { requiredKeys: [] }), fc.integer({ min: 0, max: 9 }))
  .map(([record, draw]) => (draw === 0 ? { ...record, sender: 'x@example.com' } : record));

// Valid values of each field, so that messages built mostly from them often pass.
const validFields = {
  from: fc.constantFrom(
    'Billing <billing@example.com>',
    'billing@example.com',
    { name: 'Billing', address: 'billing@bücher.example' },
    { address: 'billing@Contoso.EXAMPLE' },
  ),
  to: fc.oneof(
    fc.constantFrom('ada@example.com', '"Ada L." <ada@example.com>'),
    fc.array(fc.constantFrom('a@example.com', { address: 'b@example.com' }, 'C <c@example.com>'), {
      minLength: 1,
      maxLength: 3,
    }),
  ),
  subject: fc.string({ minLength: 1, maxLength: 40 }),
  text: fc.string({ maxLength: 40 }),
  html: fc.string({ maxLength: 40 }),
  headers: fc.dictionary(
    fc.constantFrom('X-Campaign', 'X-Trace', 'List-Unsubscribe'),
    fc.string({ maxLength: 30 }),
    { maxKeys: 3 },
  ),
  attachments: fc.array(
    fc.record(
      {
        filename: fc.constantFrom('invoice.pdf', 'logo.png'),
        content: base64,
        contentType: fc.constantFrom('application/pdf', 'image/png'),
        contentId: fc.constantFrom('logo', 'part1@example.com'),
        disposition: fc.constantFrom('attachment', 'inline'),
      },
      { requiredKeys: ['filename', 'content'] },
    ),
    { maxLength: 2 },
  ),
  priority: fc.constantFrom('high', 'normal', 'low'),
  notBefore: fc.constantFrom('2091-03-01T10:00:00Z', new Date(FAR_FUTURE_MS)),
  expiresAt: fc.constantFrom('2092-03-01T10:00:00+02:00', new Date(FAR_FUTURE_MS * 1.01)),
  idempotencyKey: fc.constantFrom('order-1', 'a'.repeat(256), '~!#'),
  tags: fc.array(fc.constantFrom('invoice', 'a.b:c-d_e'), { maxLength: 3 }),
};

// Messages built mostly from valid fields, with now and then a field from the general arbitrary.
const mostlyValidMessage = fc.record(
  Object.fromEntries(
    Object.entries(validFields).map(([name, valid]) => [
      name,
      fc.oneof(
        { weight: 12, arbitrary: valid as fc.Arbitrary<unknown> },
        { weight: 1, arbitrary: fields[name as keyof typeof fields] as fc.Arbitrary<unknown> },
      ),
    ]),
  ),
  { requiredKeys: ['from', 'to', 'subject', 'text'] },
);

// Inputs whose prototype, key kinds or top-level type are unusual.
const unusualInput = fc.oneof(
  fc.anything(),
  fc.object(),
  fc.constant(
    Object.assign(Object.create(null), { from: 'a@example.com', subject: 's', text: 't' }),
  ),
  fc.constant(
    Object.assign(Object.create({ text: 'inherited' }), {
      from: 'a@example.com',
      subject: 's',
      to: 'b@example.com',
    }),
  ),
  fc.constant(
    Object.assign(Object.create({ extra: 1 }), {
      from: 'a@example.com',
      subject: 's',
      text: 't',
      to: 'b@example.com',
    }),
  ),
  fc.constant(
    Object.assign(new (class Mail {})(), {
      from: 'a@example.com',
      subject: 's',
      text: 't',
      to: 'b@example.com',
    }),
  ),
  fc.constant(JSON.parse('{"from":"a@example.com","subject":"s","text":"t","__proto__":{"x":1}}')),
  fc.constant({ from: 'a@example.com', subject: 's', text: 't', [Symbol('extra')]: 1 }),
);

// Lists the keys of every object in order, with arrays by position, to compare key order.
function keyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keyOrder);
  if (typeof value !== 'object' || value === null) return null;
  return Object.keys(value).map((key) => [key, keyOrder((value as Record<string, unknown>)[key])]);
}

function expectSameResult(input: unknown): void {
  const expected = messageSchema.safeParse(input);
  const actual = parseMessageFast(input);

  expect(actual !== undefined).toBe(expected.success);
  if (!expected.success || actual === undefined) return;
  expect(actual).toStrictEqual(expected.data);
  expect(keyOrder(actual)).toEqual(keyOrder(expected.data));
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected.data));
}

describe('parseMessageFast', () => {
  test('agrees with the schema on generated messages', () => {
    fc.assert(fc.property(generatedMessage, expectSameResult), { numRuns: 3000 });
  });

  test('agrees with the schema on nearly valid messages', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mostlyValidMessage, (input) => {
        expectSameResult(input);
        if (parseMessageFast(input) !== undefined) accepted++;
      }),
      { numRuns: 3000 },
    );
    // The comparison means little unless a good share of the inputs are valid.
    expect(accepted).toBeGreaterThan(1000);
  });

  test('agrees with the schema on unusual inputs', () => {
    fc.assert(fc.property(unusualInput, expectSameResult), { numRuns: 1000 });
  });

  test('agrees on fixed hard cases', () => {
    const valid = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };
    // A hole in an array reads as undefined.
    const sparseList: string[] = [];
    sparseList[0] = 'a@example.com';
    sparseList[2] = 'b@example.com';
    const cases: unknown[] = [
      valid,
      { ...valid, text: undefined, html: '<p>x</p>' },
      { ...valid, text: undefined },
      { ...valid, cc: undefined, bcc: [], replyTo: undefined },
      { ...valid, priority: undefined },
      { ...valid, headers: { 'X-A': '1', 'x-b': '2', '1': 'number-like' } },
      { ...valid, attachments: [{ filename: 'a.txt', content: 'QQ==', contentType: undefined }] },
      { ...valid, notBefore: '2091-01-01T00:00:00Z', expiresAt: '2091-01-01T00:00:00Z' },
      { ...valid, notBefore: new Date(FAR_FUTURE_MS), expiresAt: '2092-01-01T00:00:00+01:00' },
      { ...valid, expiresAt: '2020-01-01T00:00:00Z' },
      { ...valid, from: { name: 'Ada', address: 'ADA@BÜCHER.example' } },
      { ...valid, to: ['a@example.com', undefined] },
      { ...valid, to: sparseList },
    ];
    for (const input of cases) expectSameResult(input);
  });

  test('parseMessage rejects what the schema rejects', () => {
    fc.assert(
      fc.property(generatedMessage, (input) => {
        const schemaAccepts = messageSchema.safeParse(input).success;
        let error: unknown;
        try {
          parseMessage(input, { maxRecipients: Number.MAX_SAFE_INTEGER });
        } catch (caught) {
          error = caught;
        }
        if (schemaAccepts) {
          // Only the check for at least one recipient can still reject it.
          if (error !== undefined) expect((error as ValidationError).issues[0]?.path).toBe('to');
        } else {
          expect(error).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
