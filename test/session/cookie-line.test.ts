import { describe, expect, it } from 'vitest';
import { serializeSetCookie } from '../../src/cookie/serialize.js';
import { resolveCookiePolicy, sessionCookieLine } from '../../src/session/cookie-policy.js';

const full = (
  policy: ReturnType<typeof resolveCookiePolicy>,
  secure: boolean,
  name: string,
  value: string,
  maxAgeMs?: number,
) =>
  serializeSetCookie({
    name,
    value,
    maxAge: maxAgeMs === undefined ? undefined : Math.max(1, Math.floor(maxAgeMs / 1000)),
    path: policy.path,
    domain: policy.domain,
    secure,
    httpOnly: true,
    sameSite: policy.sameSite,
  });

/** The line, or the error's message: both ways must agree, a refusal included (__Host- without Secure). */
const outcome = (make: () => string): string => {
  try {
    return make();
  } catch (error) {
    return `threw ${(error as Error).message}`;
  }
};

describe('session cookie line (its attributes serialized once per policy)', () => {
  it('equals the full serializer for every policy, Secure or not, name and value', () => {
    const policies = [
      resolveCookiePolicy(),
      resolveCookiePolicy({ name: 'app', path: '/shop', domain: 'example.com', sameSite: 'Strict' }),
      resolveCookiePolicy({ secure: true, sameSite: 'None' }),
      resolveCookiePolicy({ secure: false, sameSite: 'lax' }),
    ];
    for (const policy of policies) {
      for (const secure of [true, false]) {
        // The usual name twice (cached the second time), another name, then the usual one again.
        for (const name of [
          '__Host-Http-sid',
          'sid',
          'sid',
          '__Host-Http-sid',
          '__Host-sid',
          'other',
          'sid',
        ]) {
          for (const value of ['abc', 'A'.repeat(43), 's%3Aid.sig', '']) {
            expect(outcome(() => sessionCookieLine(policy, secure, name, value))).toBe(
              outcome(() => full(policy, secure, name, value)),
            );
            expect(outcome(() => sessionCookieLine(policy, secure, name, value, 90_000))).toBe(
              outcome(() => full(policy, secure, name, value, 90_000)),
            );
          }
        }
      }
    }
  });

  it('a long or invalid value still goes through the full serializer', () => {
    const policy = resolveCookiePolicy();
    sessionCookieLine(policy, false, 'sid', 'warm');
    expect(() => sessionCookieLine(policy, false, 'sid', `${'a'.repeat(600)};x`)).toThrow(TypeError);
    expect(() => sessionCookieLine(policy, false, 'sid', 'a'.repeat(5000))).toThrow(TypeError);
    expect(sessionCookieLine(policy, false, 'sid', 'b'.repeat(600))).toBe(
      full(policy, false, 'sid', 'b'.repeat(600)),
    );
  });
});
