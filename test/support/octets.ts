/** Header octet form: what Node's fetch and node:http hand over for a header value (issue 15). */
import { Buffer } from 'node:buffer';

/** `text` as header octets: its UTF-8, one character per octet (`u=ä` becomes `u=Ã¤`). */
export function asOctets(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Header octets read back as text (what a server gets from `Buffer.from(header, 'latin1')`). */
export function fromOctets(octets: string): string {
  return Buffer.from(octets, 'latin1').toString('utf8');
}

/**
 * A cookie whose name and value are `total` octets in UTF-8, 2,000 of them non-ASCII (1,000 `ä`):
 * 4,096 is the most a user agent stores (RFC 6265bis 5.6 step 5).
 */
export function cookieOfOctets(total: number, name = 'u'): { name: string; value: string; line: string } {
  const value = `${'ä'.repeat(1000)}${'x'.repeat(total - name.length - 2000)}`;
  return { name, value, line: `${name}=${value}` };
}
