/**
 * `teller cookie parse`, `teller secret`, `--help` on every command and the exit codes of bad input, run as the
 * built command.
 */
import { describe, expect, it } from 'vitest';
import { assertBuilt, oneLine, teller } from './helpers.js';

assertBuilt();

const NOW = '2026-01-01T00:00:00Z';

interface Explained {
  accepted: boolean;
  reason?: string;
  cookie: Record<string, unknown> | null;
  attributes: Array<{ attribute: string; effect: string; applies: boolean }>;
  stored?: { url: string; accepted: boolean; reason?: string; hostOnly?: boolean; domain?: string };
}

async function explain(...args: string[]): Promise<{ code: number; json: Explained }> {
  const result = await teller(['cookie', 'parse', '--now', NOW, '--json', ...args]);
  return { code: result.code, json: JSON.parse(result.stdout) as Explained };
}

describe('teller cookie parse', () => {
  it('reads every attribute as RFC 6265bis does: the last one wins, Max-Age over Expires, unknown ignored', async () => {
    const line =
      'sid=abc; Path=/app; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3600; Domain=.Example.COM; SameSite=Lax; SameSite=Strict; HttpOnly; Foo=bar; Expires=garbage';
    const { code, json } = await explain(line);
    expect(code).toBe(0);
    expect(json.accepted).toBe(true);
    expect(json.cookie).toMatchObject({
      name: 'sid',
      value: 'abc',
      path: '/app',
      domain: 'example.com',
      expiresAt: '2026-01-01T01:00:00.000Z',
      sameSite: 'Strict',
      httpOnly: true,
      secure: false,
    });
    const effect = (attribute: string) => json.attributes.find((a) => a.attribute === attribute)!;
    expect(effect('Expires=Wed, 21 Oct 2015 07:28:00 GMT')).toMatchObject({ applies: false });
    expect(effect('Expires=Wed, 21 Oct 2015 07:28:00 GMT').effect).toMatch(/Max-Age takes precedence/);
    expect(effect('Expires=garbage')).toMatchObject({ applies: false });
    expect(effect('Expires=garbage').effect).toMatch(/not a date/);
    expect(effect('SameSite=Lax').effect).toMatch(/overridden by a later SameSite/);
    expect(effect('SameSite=Strict').applies).toBe(true);
    expect(effect('Foo=bar').effect).toMatch(/unknown attribute/);
    expect(effect('Max-Age=3600')).toMatchObject({ applies: true });
  });

  it('a later Path that does not start with "/" resets the path to the default-path', async () => {
    const { json } = await explain('a=b; Path=/x; Path=rel');
    expect(json.cookie).toMatchObject({ path: null });
    expect(json.attributes[0]!.effect).toMatch(/overridden by a later Path/);
  });

  it('says why the parser rejects a line (exit 1)', async () => {
    const empty = await explain('=; Path=/');
    expect(empty.code).toBe(1);
    expect(empty.json).toMatchObject({ accepted: false, cookie: null });
    expect(empty.json.reason).toMatch(/5\.7 step 2/);
    const control = await teller(['cookie', 'parse', 'a=b\u0001c']);
    expect(control.code).toBe(1);
    expect(control.stdout).toMatch(
      /^rejected: RFC 6265bis 5\.6 step 1: the line contains a control character/,
    );
  });

  it('with --url, applies the storage rules: prefixes, Secure, SameSite=None, domain-match', async () => {
    const host = await explain(
      '__Host-sid=1; Path=/; Domain=example.com; Secure',
      '--url',
      'https://example.com/',
    );
    expect(host.code).toBe(1);
    expect(host.json.stored).toMatchObject({ accepted: false });
    expect(host.json.stored!.reason).toMatch(/__Host-/);
    // The layered-cookies draft's prefixes: HttpOnly too, the draft's step named.
    const http = await explain('__Host-Http-sid=1; Path=/; Secure', '--url', 'https://example.com/');
    expect(http.code).toBe(1);
    expect(http.json.stored!.reason).toBe(
      'cookie rejected by layered-cookies 5.4.3 step 16: a __Host-Http- cookie without HttpOnly',
    );
    const httpOk = await explain(
      '__Host-Http-sid=1; Path=/; Secure; HttpOnly',
      '--url',
      'https://example.com/',
    );
    expect(httpOk.code).toBe(0);
    const none = await explain('a=b; SameSite=None', '--url', 'https://example.com/');
    expect(none.json.stored!.reason).toMatch(/SameSite=None without Secure/);
    const foreign = await explain('a=b; Domain=other.org', '--url', 'https://example.com/');
    expect(foreign.code).toBe(1);
    expect(foreign.json.stored!.reason).toMatch(/5\.7 step/);
    const ok = await explain('a=b; Domain=example.com; Secure', '--url', 'https://www.example.com/');
    expect(ok.code).toBe(0);
    expect(ok.json.stored).toEqual({
      url: 'https://www.example.com/',
      accepted: true,
      hostOnly: false,
      domain: 'example.com',
    });
    const human = await teller(['cookie', 'parse', 'a=b; Secure', '--url', 'http://example.com/']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^rejected from http:\/\/example\.com\/: .*Secure/m);
  });

  it('human output: the cookie, then each attribute with its reading', async () => {
    const result = await teller(['cookie', 'parse', 'sid=abc; Max-Age=60; Bogus', '--now', NOW]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^name:\s+sid$/m);
    expect(result.stdout).toMatch(/^expires:\s+2026-01-01T00:01:00\.000Z$/m);
    expect(result.stdout).toContain('  Bogus\n    × ignored: an unknown attribute (5.6 step 7)');
  });

  it('bad --url or --now: a usage error (exit 2)', async () => {
    expect((await teller(['cookie', 'parse', 'a=b', '--url', 'nope'])).code).toBe(2);
    const now = await teller(['cookie', 'parse', 'a=b', '--now', 'yesterday']);
    expect(now.code).toBe(2);
    expect(now.stderr).toMatch(/--now must be an ISO date or epoch ms/);
    expect((await teller(['cookie', 'parse'])).code).toBe(2);
  });
});

describe('teller secret', () => {
  it('prints a new 32-byte base64url secret each time', async () => {
    const [a, b] = await Promise.all([teller(['secret']), teller(['secret'])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(a.stdout).not.toBe(b.stdout);
    expect(Buffer.from(a.stdout.trim(), 'base64url')).toHaveLength(32);
    expect((await teller(['secret', '--bytes', '64'])).stdout.trim()).toHaveLength(86);
  });

  it('refuses fewer than 32 bytes (exit 2)', async () => {
    const result = await teller(['secret', '--bytes', '16']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--bytes must be a whole number from 32 to 1024/);
  });
});

describe('teller --help and usage errors', () => {
  const commands = [
    [],
    ['sessions'],
    ['sessions', 'list'],
    ['sessions', 'show'],
    ['sessions', 'revoke'],
    ['sessions', 'purge'],
    ['cookie'],
    ['cookie', 'parse'],
    ['fetch'],
    ['secret'],
  ];
  it('--help on every command: usage on stdout, exit 0', async () => {
    const runs = await Promise.all(commands.map((command) => teller([...command, '--help'])));
    runs.forEach((result, i) => {
      const name = ['teller', ...commands[i]!].join(' ');
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toContain(`Usage: ${name}`);
      expect(result.stderr, name).toBe('');
    });
  });

  it('--version prints the package version', async () => {
    const result = await teller(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('an unknown command or option, or a command without its subcommand: exit 2', async () => {
    for (const args of [['nope'], ['secret', '--nope'], ['sessions'], []]) {
      const result = await teller(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).not.toBe('');
    }
    expect(oneLine(await teller(['sessions', 'list', '--store', 'ftp://x']))).toMatch(/not a store URL/);
  });
});
