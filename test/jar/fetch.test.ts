/** fetchWithJar against local node:http servers: cookies per hop, redirect semantics, no credential leaks. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, fetchWithJar } from '../../src/jar/index.js';
import { asOctets, cookieOfOctets, fromOctets } from '../support/octets.js';

interface Seen {
  server: 'a' | 'b';
  method: string;
  path: string;
  cookie: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

const seen: Seen[] = [];
let a = ''; // http://127.0.0.1:<port>
let b = ''; // http://127.0.0.2:<port>: another host, another origin

function handler(name: 'a' | 'b'): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({
        server: name,
        method: req.method ?? '',
        path: url.pathname,
        cookie: req.headers.cookie,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString(),
      });
      const redirect = (status: number, location: string, cookies: string[] = []) => {
        res.writeHead(status, { location, 'set-cookie': cookies });
        res.end('moved');
      };
      switch (url.pathname) {
        case '/login':
          return redirect(302, '/home', ['sid=s1; Path=/; HttpOnly']);
        case '/see-other':
          return redirect(303, '/home', ['step=1; Path=/']);
        case '/temporary':
          return redirect(307, '/echo', ['kept=1; Path=/']);
        case '/to-b':
          return redirect(302, `${b}/echo`, ['fromA=1; Path=/']);
        case '/b-back-to-a':
          return redirect(302, `${a}/echo`, ['fromB=1; Path=/']);
        case '/loop':
          return redirect(302, '/loop', [`n=${seen.length}; Path=/`]);
        case '/relative':
          return redirect(301, 'echo?x=1');
        case '/bad-scheme':
          return redirect(302, 'file:///etc/passwd');
        case '/octets/4096':
        case '/octets/4097': {
          // The cookie's UTF-8 as a latin1 string is its exact octets on the wire, provided the body is a
          // Buffer: with a string body node:http would encode the headers as UTF-8 (twice, here).
          const size = Number(url.pathname.slice(8));
          const { line } = cookieOfOctets(size, size === 4096 ? 'u' : 'v');
          res.writeHead(200, { 'set-cookie': `${asOctets(line)}; Path=/` });
          return res.end(Buffer.from('ok'));
        }
        case '/echo-octets':
          // node:http gives header values one character per octet: read them back as UTF-8.
          return res.end(fromOctets(req.headers.cookie ?? ''));
        default:
          res.writeHead(200, { 'set-cookie': [`last=${url.pathname}; Path=/`] });
          res.end(req.headers.cookie ?? '');
      }
    });
  };
}

const servers = [http.createServer(handler('a')), http.createServer(handler('b'))];

beforeAll(async () => {
  const hosts = ['127.0.0.1', '127.0.0.2'];
  await Promise.all(servers.map((s, i) => new Promise<void>((resolve) => s.listen(0, hosts[i], resolve))));
  a = `http://127.0.0.1:${(servers[0]!.address() as AddressInfo).port}`;
  b = `http://127.0.0.2:${(servers[1]!.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

function fresh(): { jar: CookieJar; fetch: ReturnType<typeof fetchWithJar> } {
  seen.length = 0;
  const jar = new CookieJar();
  return { jar, fetch: fetchWithJar(jar) };
}

describe('fetchWithJar', () => {
  it('sends the jar’s cookies and stores every Set-Cookie', async () => {
    const { jar, fetch } = fresh();
    jar.setCookie('pre=1; Path=/', `${a}/`);
    const res = await fetch(`${a}/echo`);
    expect(await res.text()).toBe('pre=1');
    expect(jar.getCookieHeader(`${a}/`)).toBe('pre=1; last=/echo');
  });

  it('turns a 302 after POST into a GET without body, storing the redirect’s cookies for the next hop', async () => {
    const { jar, fetch } = fresh();
    const res = await fetch(`${a}/login`, { method: 'POST', body: new URLSearchParams({ user: 'ann' }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('sid=s1');
    expect(seen.map((s) => [s.method, s.path, s.body, s.contentType ?? null])).toEqual([
      ['POST', '/login', 'user=ann', 'application/x-www-form-urlencoded;charset=UTF-8'],
      ['GET', '/home', '', null],
    ]);
    expect(jar.getCookies(`${a}/`).map((c) => [c.name, c.httpOnly])).toEqual([
      ['sid', true],
      ['last', false],
    ]);
  });

  it('turns a 303 into a GET, and keeps method and body on a 307', async () => {
    const { fetch } = fresh();
    await fetch(`${a}/see-other`, { method: 'PUT', body: 'x' });
    await fetch(`${a}/temporary`, {
      method: 'POST',
      body: 'payload',
      headers: { 'content-type': 'text/plain' },
    });
    expect(seen.map((s) => [s.method, s.path, s.body, s.cookie ?? ''])).toEqual([
      ['PUT', '/see-other', 'x', ''],
      ['GET', '/home', '', 'step=1'],
      ['POST', '/temporary', 'payload', 'step=1; last=/home'],
      ['POST', '/echo', 'payload', 'step=1; last=/home; kept=1'],
    ]);
    expect(seen[3]!.contentType).toBe('text/plain');
  });

  it('resolves a relative Location', async () => {
    const { fetch } = fresh();
    const res = await fetch(`${a}/relative`);
    expect(res.status).toBe(200);
    expect(seen.map((s) => s.path)).toEqual(['/relative', '/echo']);
    expect(res.url).toBe(`${a}/echo?x=1`);
  });

  it('recomputes the Cookie header per hop and never forwards the caller’s Cookie or Authorization to another origin', async () => {
    const { jar, fetch } = fresh();
    jar.setCookie('jarA=1; Path=/', `${a}/`);
    jar.setCookie('jarB=1; Path=/', `${b}/`);
    await fetch(`${a}/to-b`, { headers: { cookie: 'caller=secret', authorization: 'Bearer t' } });
    expect(seen.map((s) => [s.server, s.path, s.cookie, s.authorization])).toEqual([
      ['a', '/to-b', 'caller=secret; jarA=1', 'Bearer t'],
      ['b', '/echo', 'jarB=1', undefined],
    ]);
    // Back on the first origin after leaving it: the caller's credentials stay dropped.
    seen.length = 0;
    await fetch(`${b}/b-back-to-a`, { headers: { cookie: 'caller=secret' } });
    expect(seen.map((s) => [s.server, s.cookie])).toEqual([
      ['b', 'caller=secret; jarB=1; last=/echo'],
      ['a', 'jarA=1; fromA=1'],
    ]);
    expect(jar.getCookieHeader(`${b}/`)).toBe('jarB=1; last=/echo; fromB=1');
  });

  it('stops after maxRedirects with a TypeError, having stored every hop’s cookies', async () => {
    seen.length = 0;
    const jar = new CookieJar();
    const limited = fetchWithJar(jar, globalThis.fetch, { maxRedirects: 3 });
    await expect(limited(`${a}/loop`)).rejects.toThrow(/\[teller\] \[jar\] more than 3 redirects/);
    expect(seen).toHaveLength(4);
    expect(jar.getCookieHeader(`${a}/`)).toBe('n=4');
  });

  it('honours redirect: manual and redirect: error', async () => {
    const { jar, fetch } = fresh();
    const res = await fetch(`${a}/login`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/home');
    expect(jar.getCookieHeader(`${a}/`)).toBe('sid=s1');
    await expect(fetch(`${a}/login`, { redirect: 'error' })).rejects.toThrow(TypeError);
    await expect(fetch(`${a}/bad-scheme`)).rejects.toThrow(/file: URL/);
  });

  it('measures a Set-Cookie in the octets that came over the wire, and sends the cookie’s UTF-8 back', async () => {
    const { jar, fetch } = fresh();
    await fetch(`${a}/octets/4096`);
    await fetch(`${a}/octets/4097`);
    const ok = cookieOfOctets(4096);
    // 4,096 octets stored (2,000 of them non-ASCII), as the text they encode; 4,097 not.
    expect(jar.getCookies(`${a}/`).map((c) => [c.name, c.value])).toEqual([[ok.name, ok.value]]);
    expect(await (await fetch(`${a}/echo-octets`)).text()).toBe(ok.line);
    // A cookie the program stored as text goes out as UTF-8 too (fetch takes no character above U+00FF).
    const other = fresh();
    other.jar.setCookie('e=€ä; Path=/', `${a}/`);
    expect(await (await other.fetch(`${a}/echo-octets`)).text()).toBe('e=€ä');
  });

  it('does not echo a refused redirect’s Location, which may carry a token', async () => {
    const secret = 'sk_live_4f9a8b7c6d5e4f3a2b1c0d9e';
    const fake = async () =>
      new Response(null, { status: 302, headers: { location: `https://example.com/cb?code=${secret}` } });
    const error = await fetchWithJar(new CookieJar(), fake)('https://example.com/', {
      redirect: 'error',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^\[teller\] \[jar\] .*redirect: 'error'/);
    expect((error as Error).message).not.toContain('sk_live');
  });

  it('asks the wrapped fetch for manual redirects and accepts a Request', async () => {
    const calls: Array<RequestInit | undefined> = [];
    const urls: string[] = [];
    const fake = async (input: string | URL | Request, init?: RequestInit) => {
      urls.push(String(input));
      calls.push(init);
      return new Response('hi', { headers: [['set-cookie', 'f=1; Path=/']] });
    };
    const jar = new CookieJar();
    const wrapped = fetchWithJar(jar, fake);
    await wrapped(new Request('https://example.com/a', { method: 'DELETE' }));
    await wrapped('https://example.com/b', { cache: 'no-store', redirect: 'follow' });
    expect(urls).toEqual(['https://example.com/a', 'https://example.com/b']);
    expect(calls.map((c) => [c?.redirect, c?.method])).toEqual([
      ['manual', 'DELETE'],
      ['manual', 'GET'],
    ]);
    expect(new Headers(calls[1]?.headers).get('cookie')).toBe('f=1');
    expect(calls[1]?.cache).toBe('no-store');
    expect(() => fetchWithJar(jar, fake, { maxRedirects: -1 })).toThrow(TypeError);
  });
});
