import { domainToASCII } from 'node:url';

/** A parsed mailbox address. `address` carries the domain in its ASCII (punycode) form. */
export interface MailAddress {
  name?: string;
  address: string;
}

const MAX_LOCAL_PART_OCTETS = 64;
const MAX_DOMAIN_OCTETS = 253;
// RFC 5322 atext, plus any non-ASCII character for SMTPUTF8 local parts (RFC 6532).
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+)*$/;
const QUOTED_LOCAL = /^"([\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uFFFF]|\\[\x20-\x7e])*"$/;
const DOMAIN_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_AND_ADDRESS = /^(.*?)\s*<([^<>]*)>$/s;

export const CONTROL_CHARACTERS = /[\r\n\0]/;

/**
 * Parses `Name <local@domain>`, `local@domain` or `{ name, address }` into a MailAddress.
 * Returns an error message instead when the input is not a single RFC 5322 mailbox.
 */
export function parseAddress(
  input: string | { name?: string | undefined; address: string },
): MailAddress | string {
  if (typeof input !== 'string') return parseMailbox(input.name, input.address);
  // A bare address is the common case, and the name pattern cannot match without `<`.
  if (!input.includes('<')) return parseMailbox(undefined, input.trim());

  const { name, address } = splitNameAndAddress(input);
  return parseMailbox(name, address);
}

/**
 * Parses a display name and an address given apart, as `parseAddress` parses
 * `{ name, address }`. Returns an error message instead when either is invalid.
 */
export function parseMailbox(name: string | undefined, address: string): MailAddress | string {
  if (name !== undefined && CONTROL_CHARACTERS.test(name)) {
    return 'display name must not contain CR, LF or NUL characters';
  }
  const normalized = normalizeAddress(address);
  if (normalized.startsWith('!')) return normalized.slice(1);

  return name ? { name, address: normalized } : { address: normalized };
}

/** Formats an address for messages and logs of configuration, such as `Name <a@b.example>`. */
export function formatAddress(address: MailAddress): string {
  return address.name ? `${address.name} <${address.address}>` : address.address;
}

function splitNameAndAddress(input: string): { name?: string; address: string } {
  const match = NAME_AND_ADDRESS.exec(input.trim());
  if (!match) return { address: input.trim() };

  const rawName = (match[1] ?? '').trim();
  const name = rawName.startsWith('"') && rawName.endsWith('"') ? rawName.slice(1, -1) : rawName;
  return name ? { name, address: (match[2] ?? '').trim() } : { address: (match[2] ?? '').trim() };
}

// Returns the normalized address, or an error message prefixed with "!".
function normalizeAddress(address: string): string {
  if (CONTROL_CHARACTERS.test(address)) return '!address must not contain CR, LF or NUL characters';

  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) {
    return `!"${address}" is not an email address of the form local-part@domain`;
  }
  const localPart = address.slice(0, at);
  const domain = address.slice(at + 1);

  if (!DOT_ATOM.test(localPart) && !QUOTED_LOCAL.test(localPart)) {
    return `!"${address}" has an invalid local part; quote it or remove spaces and special characters`;
  }
  // A UTF-16 code unit takes at most 3 bytes in UTF-8, so short local parts need no count.
  const mayBeTooLong = localPart.length * 3 > MAX_LOCAL_PART_OCTETS;
  if (mayBeTooLong && Buffer.byteLength(localPart) > MAX_LOCAL_PART_OCTETS) {
    return `!"${address}" has a local part longer than ${MAX_LOCAL_PART_OCTETS} octets`;
  }

  const asciiDomain = normalizeDomain(domain);
  if (asciiDomain === undefined) {
    return `!"${address}" has an invalid domain; use a fully qualified domain name such as example.com`;
  }
  // Most domains are already lowercase ASCII, and then the address is returned unchanged.
  return asciiDomain === domain ? address : `${localPart}@${asciiDomain}`;
}

// Most messages of a process go to and from a few domains, and domainToASCII is the costliest
// step of parsing an address. The cache is emptied when full and keeps only domains of at most
// MAX_DOMAIN_OCTETS characters, so it stays under about 1,000 entries of 253 characters.
const MAX_CACHED_DOMAINS = 1000;
const domainCache = new Map<string, string | undefined>();

// Returns the domain in lowercase ASCII (punycode), or undefined when it is not a valid FQDN.
function normalizeDomain(domain: string): string | undefined {
  if (domain.length > MAX_DOMAIN_OCTETS) return toAsciiDomain(domain);

  const cached = domainCache.get(domain);
  if (cached !== undefined || domainCache.has(domain)) return cached;

  const result = toAsciiDomain(domain);
  if (domainCache.size >= MAX_CACHED_DOMAINS) domainCache.clear();
  domainCache.set(domain, result);
  return result;
}

function toAsciiDomain(domain: string): string | undefined {
  const asciiDomain = domainToASCII(domain.toLowerCase());
  const labels = asciiDomain.split('.');
  const validDomain =
    asciiDomain !== '' &&
    asciiDomain.length <= MAX_DOMAIN_OCTETS &&
    labels.length >= 2 &&
    labels.every((label) => DOMAIN_LABEL.test(label));
  return validDomain ? asciiDomain : undefined;
}
