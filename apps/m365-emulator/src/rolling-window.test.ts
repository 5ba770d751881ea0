import { describe, expect, it } from 'vitest';
import { LimitTable } from './limits.js';
import { MailboxUsage } from './mailbox-usage.js';
import { RollingWindow } from './rolling-window.js';

describe('RollingWindow', () => {
  it('sums weights newer than the window', () => {
    const window = new RollingWindow(1000);
    window.add(0, 2);
    window.add(500, 3);

    expect(window.total(999)).toBe(5);
    expect(window.total(1000)).toBe(3);
    expect(window.total(1500)).toBe(0);
  });

  it('starts empty after clear', () => {
    const window = new RollingWindow(1000);
    window.add(0, 4);
    window.clear();

    expect(window.total(1)).toBe(0);
  });
});

describe('MailboxUsage', () => {
  it('counts sessions per mailbox case-insensitively and keeps the maximum', () => {
    const usage = new MailboxUsage(1000);

    expect(usage.tryOpenSession('A@x.example', 2)).toBe(true);
    expect(usage.tryOpenSession('a@x.example', 2)).toBe(true);
    expect(usage.tryOpenSession('a@x.example', 2)).toBe(false);
    usage.closeSession('a@x.example');

    expect(usage.snapshot()).toEqual({
      maxConcurrentConnections: { 'a@x.example': 2 },
      maxConcurrentGraphRequests: {},
      openConnections: { 'a@x.example': 1 },
      messagesByMailbox: { 'a@x.example': 0 },
    });
  });

  it('keeps recipients for 1440 time units', () => {
    const usage = new MailboxUsage(10);
    usage.recordAccepted('a@x.example', 7, 0);

    expect(usage.messagesInWindow('a@x.example', 9)).toBe(1);
    expect(usage.messagesInWindow('a@x.example', 10)).toBe(0);
    expect(usage.recipientsInDay('a@x.example', 14_399)).toBe(7);
    expect(usage.recipientsInDay('a@x.example', 14_400)).toBe(0);
  });
});

describe('LimitTable', () => {
  it('layers mailbox overrides over emulator-wide limits and defaults', () => {
    const table = new LimitTable(
      { messagesPerMinute: 10 },
      { 'B@x.example': { recipientsPerDay: 5 } },
    );

    expect(table.for('a@x.example')).toMatchObject({
      messagesPerMinute: 10,
      recipientsPerDay: 10_000,
    });
    expect(table.for('b@x.example')).toMatchObject({ messagesPerMinute: 10, recipientsPerDay: 5 });
  });

  it('advertises the largest message size of any mailbox', () => {
    const table = new LimitTable({}, { 'big@x.example': { maxMessageBytes: 150 * 1024 * 1024 } });

    expect(table.maxMessageBytesOfAnyMailbox()).toBe(150 * 1024 * 1024);
  });
});
