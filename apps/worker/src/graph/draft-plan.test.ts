import { randomBytes } from 'node:crypto';
import { createJobPayload, parseMessage } from '@postroom/core';
import { simpleParser } from 'mailparser';
import { expect, test } from 'vitest';
import { GraphFailure } from './classify.js';
import {
  GRAPH_MAX_REQUEST_BYTES,
  planDraft,
  toAttachmentItem,
  UPLOAD_SESSION_MIN_BYTES,
} from './draft-plan.js';

const MIB = 1024 * 1024;
const LARGE_PAYLOAD = { maxPayloadBytes: 64 * MIB };

function file(filename: string, sizeBytes: number) {
  return { filename, content: randomBytes(sizeBytes).toString('base64') };
}

function payloadWith(attachments: ReturnType<typeof file>[], text = 'Files attached.') {
  const message = parseMessage(
    {
      from: 'sender@contoso.example',
      to: 'ada@fabrikam.example',
      subject: 'Files',
      text,
      attachments,
    },
    LARGE_PAYLOAD,
  );
  return createJobPayload(message);
}

async function draftFilenames(draftBase64: string): Promise<(string | undefined)[]> {
  const parsed = await simpleParser(Buffer.from(draftBase64, 'base64'));
  return parsed.attachments.map((attachment) => attachment.filename);
}

test('uploads files of 3 MiB and more', async () => {
  const payload = payloadWith([
    file('six.bin', 6 * MIB),
    file('small.txt', 20_000),
    file('three.bin', UPLOAD_SESSION_MIN_BYTES),
  ]);

  const plan = await planDraft(payload);

  expect(plan.separate.map((entry) => entry.attachment.filename)).toEqual(['six.bin', 'three.bin']);
  expect(plan.separate.map((entry) => entry.method)).toEqual(['upload', 'upload']);
  expect(plan.separate.map((entry) => entry.sizeBytes)).toEqual([6 * MIB, 3 * MIB]);
  expect(await draftFilenames(plan.draftBase64)).toEqual(['small.txt']);
  expect(plan.draftBase64.length).toBeLessThanOrEqual(GRAPH_MAX_REQUEST_BYTES);
});

test('posts largest small files until draft fits', async () => {
  const payload = payloadWith([
    file('a.bin', 1 * MIB),
    file('b.bin', 2 * MIB),
    file('c.bin', 1.5 * MIB),
    file('d.bin', 10_000),
  ]);

  const plan = await planDraft(payload);

  expect(plan.separate.map((entry) => entry.attachment.filename)).toEqual(['b.bin', 'c.bin']);
  expect(plan.separate.map((entry) => entry.method)).toEqual(['post', 'post']);
  expect(await draftFilenames(plan.draftBase64)).toEqual(['a.bin', 'd.bin']);
  expect(plan.draftBase64.length).toBeLessThanOrEqual(GRAPH_MAX_REQUEST_BYTES);
});

test('uploads file whose POST would pass 4 MB', async () => {
  const payload = payloadWith([
    file('edge.bin', UPLOAD_SESSION_MIN_BYTES - 100),
    file('b.bin', MIB),
  ]);

  const plan = await planDraft(payload);

  expect(plan.separate.map((entry) => [entry.attachment.filename, entry.method])).toEqual([
    ['edge.bin', 'upload'],
  ]);
});

test('rejects body over 4 MB', async () => {
  const payload = payloadWith([file('a.bin', 10_000)], 'x'.repeat(3.5 * MIB));

  const failure = await planDraft(payload).catch((error: unknown) => error);

  expect(failure).toBeInstanceOf(GraphFailure);
  expect((failure as GraphFailure).classification).toMatchObject({
    class: 'permanent',
    reason: 'message_too_large_for_graph',
  });
});

test('describes inline file as inline', () => {
  const item = toAttachmentItem(
    { filename: 'logo.png', content: 'AAAA', contentId: 'logo@contoso.example' },
    3,
  );

  expect(item).toEqual({
    name: 'logo.png',
    size: 3,
    contentType: 'image/png',
    isInline: true,
    contentId: 'logo@contoso.example',
  });
});
