/** Persistence: JSON (toJSON/fromJSON) and curl's Netscape cookies.txt, round-tripped with the real curl. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CookieJar, type CookieJarJSON } from '../../src/jar/index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const run = promisify(execFile);

function sampleJar(): CookieJar {
  const jar = new CookieJar();
  const at = (ms: number) => ({ now: NOW + ms });
  jar.setCookie('sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax', 'https://example.com/login', at(0));
  jar.setCookie('theme=dark; Domain=example.com; Max-Age=3600', 'https://www.example.com/', at(1));
  jar.setCookie('nameless', 'http://example.org/a/b', at(2));
  jar.setCookie('n=1; SameSite=None; Secure; Partitioned; Priority=High', 'https://example.org/', at(3));
  jar.setCookie('__Host-t=x%0D%0A; Secure; Path=/', 'https://example.org/', at(4));
  jar.getCookies('https://example.com/', at(10));
  return jar;
}

describe('JSON', () => {
  it('round-trips every field, in creation order', () => {
    const jar = sampleJar();
    const json = jar.toJSON({ now: NOW + 20 });
    expect(json.version).toBe(1);
    expect(json.cookies.map((c) => c.name)).toEqual(['sid', 'theme', '', 'n', '__Host-t']);
    expect(json.cookies[0]).toEqual({
      name: 'sid',
      value: 'abc',
      domain: 'example.com',
      path: '/',
      expires: null,
      hostOnly: true,
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
      partitioned: false,
      creation: NOW,
      lastAccess: NOW + 10,
    });
    expect(json.cookies[3]).toMatchObject({ partitioned: true, priority: 'High', sameSite: 'None' });
    const copy = CookieJar.fromJSON(JSON.stringify(json), { now: NOW + 20 });
    expect(copy.toJSON({ now: NOW + 20 })).toEqual(json);
    expect(CookieJar.fromJSON(json, { now: NOW + 20 }).getAllCookies({ now: NOW + 20 })).toEqual(
      jar.getAllCookies({ now: NOW + 20 }),
    );
    expect(copy.getCookieHeader('https://example.org/a/b', { now: NOW + 20 })).toBe(
      'nameless; n=1; __Host-t=x%0D%0A',
    );
  });

  it('drops cookies expired at load time', () => {
    const text = JSON.stringify(sampleJar().toJSON({ now: NOW }));
    expect(
      CookieJar.fromJSON(text, { now: NOW + 3_600_001 })
        .getAllCookies({ now: NOW })
        .map((c) => c.name),
    ).toEqual(['sid', '', 'n', '__Host-t']);
  });

  it('leaves out (and evicts) cookies expired at now; JSON.stringify(jar) uses the real clock', () => {
    const jar = sampleJar();
    expect(jar.toJSON({ now: NOW + 3_600_001 }).cookies.map((c) => c.name)).toEqual([
      'sid',
      '',
      'n',
      '__Host-t',
    ]);
    expect(jar.size).toBe(4);
    expect(jar.toNetscape({ now: NOW + 3_600_001 })).not.toContain('theme');
    const real = new CookieJar();
    real.setCookie('gone=1; Max-Age=1', 'http://example.com/', { now: Date.now() - 5000 });
    real.setCookie('kept=1; Max-Age=3600', 'http://example.com/');
    expect((JSON.parse(JSON.stringify(real)) as CookieJarJSON).cookies.map((c) => c.name)).toEqual(['kept']);
  });

  it('throws a TypeError naming the first broken field', () => {
    const good = sampleJar().toJSON({ now: NOW });
    const broken = (patch: Record<string, unknown>): CookieJarJSON =>
      ({ ...good, cookies: [good.cookies[0], { ...good.cookies[1], ...patch }] }) as CookieJarJSON;
    expect(() => CookieJar.fromJSON('{nope')).toThrow(/not JSON/);
    expect(() => CookieJar.fromJSON({ version: 2, cookies: [] } as never)).toThrow(/version is invalid/);
    expect(() => CookieJar.fromJSON({ version: 1 } as never)).toThrow(/cookies is invalid/);
    expect(() => CookieJar.fromJSON(broken({ expires: 'tomorrow' }))).toThrow(
      /cookies\[1\]\.expires is invalid/,
    );
    expect(() => CookieJar.fromJSON(broken({ secure: 'yes' }))).toThrow(/cookies\[1\]\.secure/);
    expect(() => CookieJar.fromJSON(broken({ sameSite: 'lax' }))).toThrow(TypeError);
    expect(() => CookieJar.fromJSON(broken({ creation: null }))).toThrow(/creation/);
  });

  it('drops cookies the storage model could not have stored', () => {
    const good = sampleJar().toJSON({ now: NOW }).cookies[1]!;
    const jar = CookieJar.fromJSON(
      {
        version: 1,
        cookies: [
          { ...good, name: 'psl', domain: 'co.uk' },
          { ...good, name: 'ctl', value: 'a\r\nb' },
          { ...good, name: 'dot', domain: '.example.com' },
          { ...good, name: 'upper', domain: 'Example.com' },
          { ...good, name: 'empty label', domain: 'com..' },
          { ...good, name: 'empty label', domain: 'x..com' },
          { ...good, name: 'rel', path: 'x' },
          { ...good, name: '__Host-x', secure: false },
          { ...good, name: 'none', sameSite: 'None', secure: false },
          { ...good, name: 'kept' },
        ],
      },
      { now: NOW },
    );
    expect(jar.getAllCookies({ now: NOW }).map((c) => c.name)).toEqual(['kept']);
  });
});

describe('Netscape cookies.txt', () => {
  it('writes what curl writes: #HttpOnly_, the subdomain flag, 0 for session cookies', () => {
    const text = sampleJar().toNetscape({ now: NOW });
    // The Partitioned cookie n=1 has no place in the format (CHIPS): left out, and counted.
    expect(text.split('\n').slice(0, 4)).toEqual([
      '# Netscape HTTP Cookie File',
      '# Written by Teller (teller/jar).',
      '# 1 partitioned cookie left out: cookies.txt has no field for the partition',
      '',
    ]);
    const lines = text
      .split('\n')
      .filter((l) => l !== '' && !(l.startsWith('#') && !l.startsWith('#HttpOnly_')));
    expect(lines).toEqual([
      '#HttpOnly_example.com\tFALSE\t/\tTRUE\t0\tsid\tabc',
      `.example.com\tTRUE\t/\tFALSE\t${(NOW + 3_601_000) / 1000}\ttheme\tdark`,
      'example.org\tFALSE\t/a\tFALSE\t0\t\tnameless',
      'example.org\tFALSE\t/\tTRUE\t0\t__Host-t\tx%0D%0A',
    ]);
    expect(text.startsWith('# Netscape HTTP Cookie File\n')).toBe(true);
  });

  it('reads it back (SameSite and times are not in the format)', () => {
    const jar = sampleJar();
    const copy = CookieJar.fromNetscape(jar.toNetscape({ now: NOW + 20 }), { now: NOW + 20 });
    const strip = (c: { name: string; value: string; domain: string; path: string; hostOnly: boolean }) => ({
      name: c.name,
      value: c.value,
      domain: c.domain,
      path: c.path,
      hostOnly: c.hostOnly,
    });
    expect(copy.getAllCookies({ now: NOW + 20 }).map(strip)).toEqual(
      jar
        .getAllCookies({ now: NOW + 20 })
        .filter((c) => c.partitionKey === undefined)
        .map(strip),
    );
    const sid = copy.getAllCookies({ now: NOW + 20 })[0]!;
    expect(sid).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Default', expires: undefined });
    expect(copy.getAllCookies({ now: NOW + 20 })[1]!.expires?.getTime()).toBe(NOW + 3_601_000);
  });

  it('is lenient: skips comments, malformed lines, public suffixes and expired cookies; accepts CRLF and 6 fields', () => {
    const text = [
      '# Netscape HTTP Cookie File',
      '',
      'example.com\tFALSE\t/\tFALSE\t0\tok\t1\r',
      'example.com\tFALSE\t/\tFALSE\t0\tempty',
      '.Example.COM\tFALSE\t/p\tFALSE\t1900000000\tdomain\t2',
      'example.com\tFALSE\t/\tFALSE\tsoon\tbad-expiry\t3',
      'example.com\tFALSE\t/\tFALSE\t1000\texpired\t4',
      '.com\tTRUE\t/\tFALSE\t0\tpsl\t5',
      'example.com\tFALSE\trelative\tFALSE\t0\trel\t6',
      'only\tthree\tfields',
      '#HttpOnly_example.com\tFALSE\t/\tFALSE\t0\tho\t7',
    ].join('\n');
    const jar = CookieJar.fromNetscape(text, { now: NOW });
    expect(jar.getAllCookies({ now: NOW }).map((c) => [c.name, c.value, c.hostOnly, c.httpOnly])).toEqual([
      ['ok', '1', true, false],
      ['empty', '', true, false],
      ['domain', '2', false, false],
      ['ho', '7', true, true],
    ]);
  });

  it('leaves out a cookie whose value holds a tab (legal in a cookie, impossible in the format)', () => {
    const jar = new CookieJar();
    jar.setCookie('tab=a\tb', 'http://example.com/', { now: NOW });
    jar.setCookie('plain=1', 'http://example.com/', { now: NOW });
    expect(jar.getCookieHeader('http://example.com/', { now: NOW })).toBe('tab=a\tb; plain=1');
    expect(jar.toNetscape()).not.toContain('tab');
    expect(jar.toNetscape()).toContain('\tplain\t1');
  });

  it('round-trips with the real curl (-b file -c file) against a local server', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'teller-jar-'));
    const file = path.join(dir, 'cookies.txt');
    const received: string[] = [];
    const server = http.createServer((req, res) => {
      received.push(req.headers.cookie ?? '');
      res.setHeader('Set-Cookie', [
        'fromServer=1; Path=/',
        'serverHttpOnly=2; HttpOnly; Path=/',
        'persistent=3; Max-Age=3600; Path=/',
        'scoped=4; Path=/app',
        'mine=replaced; Path=/',
      ]);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // curl's own clock is real, so this test is too.
      const jar = new CookieJar();
      jar.setCookie('mine=1; Path=/', `http://127.0.0.1:${port}/`);
      jar.setCookie('secret=2; HttpOnly; Path=/', `http://127.0.0.1:${port}/`);
      jar.setCookie('later=3; Max-Age=600; Path=/', `http://127.0.0.1:${port}/`);
      jar.setCookie('elsewhere=4', 'http://example.com/');
      writeFileSync(file, jar.toNetscape());
      await run('curl', ['--silent', '--fail', '-b', file, '-c', file, `http://127.0.0.1:${port}/app/page`]);
      // curl sent the jar's cookies for this host, HttpOnly included, and nothing for example.com.
      expect(received).toHaveLength(1);
      expect(received[0]!.split('; ').sort()).toEqual(['later=3', 'mine=1', 'secret=2']);
      const back = CookieJar.fromNetscape(readFileSync(file, 'utf8'));
      const byName = new Map(back.getAllCookies().map((c) => [c.name, c]));
      expect([...byName.keys()].sort()).toEqual(
        [
          'elsewhere',
          'fromServer',
          'later',
          'mine',
          'persistent',
          'scoped',
          'secret',
          'serverHttpOnly',
        ].sort(),
      );
      expect(byName.get('mine')?.value).toBe('replaced');
      expect(byName.get('serverHttpOnly')).toMatchObject({
        httpOnly: true,
        hostOnly: true,
        domain: '127.0.0.1',
      });
      expect(byName.get('secret')?.httpOnly).toBe(true);
      expect(byName.get('scoped')?.path).toBe('/app');
      expect(byName.get('persistent')?.expires?.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
      expect(byName.get('fromServer')?.expires).toBeUndefined();
      expect(back.getCookieHeader(`http://127.0.0.1:${port}/app/x`)).toContain('scoped=4');
      expect(back.getCookieHeader(`http://127.0.0.1:${port}/`, { http: false })).not.toContain(
        'serverHttpOnly',
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
