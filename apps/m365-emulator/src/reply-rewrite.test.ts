import { describe, expect, it } from 'vitest';
import { replyStatsKey, toExchangeReply } from './reply-rewrite.js';

const FACTS = { secure: true, authenticated: false, advertisedSizeBytes: 100 };

describe('toExchangeReply', () => {
  it('passes replies that carry an enhanced code unchanged', () => {
    const reply = toExchangeReply(
      535,
      '5.7.3 Authentication unsuccessful [EMULATOR]',
      undefined,
      FACTS,
    );

    expect(reply.lines).toEqual(['5.7.3 Authentication unsuccessful [EMULATOR]']);
  });

  it('maps smtp-server texts to Exchange texts', () => {
    expect(toExchangeReply(250, 'Accepted', 'MAIL_FROM_OK', FACTS).lines).toEqual([
      '2.1.0 Sender OK',
    ]);
    expect(toExchangeReply(250, 'Accepted', 'RCPT_TO_OK', FACTS).lines).toEqual([
      '2.1.5 Recipient OK',
    ]);
    expect(
      toExchangeReply(538, 'Error: Must issue a STARTTLS command first', undefined, FACTS),
    ).toMatchObject({ code: 504, lines: ['5.7.4 Unrecognized authentication type'] });
  });

  it('adds a generic enhanced code to unknown texts', () => {
    expect(toExchangeReply(501, 'Error: syntax: AUTH LOGIN', undefined, FACTS).lines).toEqual([
      '5.0.0 syntax: AUTH LOGIN',
    ]);
  });

  it('keys statistics by code and enhanced code', () => {
    expect(replyStatsKey(toExchangeReply(250, 'Accepted', 'RCPT_TO_OK', FACTS))).toBe('250 2.1.5');
    expect(replyStatsKey(toExchangeReply(334, 'VXNlcm5hbWU6', undefined, FACTS))).toBe('334');
    expect(replyStatsKey(toExchangeReply(250, ['EMULATOR Hello [127.0.0.1]'], false, FACTS))).toBe(
      '250',
    );
  });
});
