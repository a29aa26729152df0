/**
 * `teller fetch <url> --jar cookies.txt` against a node:http server of this file's own that sets cookies on a
 * redirect and echoes what it is sent: the cookies.txt written (curl's format), re-read by the next run, read by
 * curl itself, and curl's own file read back by teller; the options and the exit codes of bad input.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.js';
import { assertBuilt, oneLine, teller } from './helpers.js';

assertBuilt();

const dir = mkdtempSync(join(tmpdir(), 'teller-cli-fetch-'));
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      if (path === '/login') {
        res.writeHead(302, {
          location: '/home',
          'set-cookie': ['sid=abc123; Path=/; HttpOnly', 'theme=dark; Path=/; Max-Age=3600'],
        });
        res.end();
      } else if (path === '/logout') {
        res.writeHead(200, { 'set-cookie': 'theme=; Path=/; Max-Age=0' });
        res.end('bye\n');
      } else if (path === '/missing') {
        res.writeHead(404);
        res.end('no\n');
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-served': 'yes' });
        res.end(
          `${req.method} ${path} cookie=${req.headers.cookie ?? ''} x=${req.headers['x-test'] ?? ''} body=${body}\n`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const curl = await promisify(execFile)('curl', ['--version']).then(
  () => true,
  () => false,
);
if (!curl) {
  if (process.env.CI) throw new Error('curl is missing: the cookies.txt round trip with curl must run in CI');
  console.warn('[cli/fetch.test] curl is missing: the curl round trip is skipped');
}

describe('teller fetch --jar', () => {
  const jar = join(dir, 'cookies.txt');

  it('follows the redirect with the cookies it set, and writes them in curl’s cookies.txt format', async () => {
    const result = await teller(['fetch', `${base}/login`, '--jar', jar]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('GET /home cookie=sid=abc123; theme=dark x= body=\n');
    const lines = readFileSync(jar, 'utf8').split('\n');
    expect(lines[0]).toBe('# Netscape HTTP Cookie File');
    expect(lines).toContain('#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc123');
    const theme = lines.find((line) => line.endsWith('\ttheme\tdark'))!.split('\t');
    expect(theme.slice(0, 4)).toEqual(['127.0.0.1', 'FALSE', '/', 'FALSE']);
    expect(Number(theme[4]) * 1000).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it('reads the jar back on the next run, and writes a deletion', async () => {
    const again = await teller(['fetch', `${base}/whoami`, '--jar', jar]);
    expect(again.stdout).toBe('GET /whoami cookie=sid=abc123; theme=dark x= body=\n');
    await teller(['fetch', `${base}/logout`, '--jar', jar]);
    expect(readFileSync(jar, 'utf8')).not.toContain('theme');
    expect((await teller(['fetch', `${base}/whoami`, '-j', jar])).stdout).toContain('cookie=sid=abc123 x=');
  });

  it.skipIf(!curl)('curl reads the jar teller wrote, and teller reads the jar curl wrote', async () => {
    const curled = await promisify(execFile)('curl', ['-s', '-b', jar, `${base}/whoami`]);
    expect(curled.stdout).toBe('GET /whoami cookie=sid=abc123 x= body=\n');
    const fromCurl = join(dir, 'from-curl.txt');
    await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-c', fromCurl, `${base}/login`]);
    const result = await teller(['fetch', `${base}/whoami`, '--jar', fromCurl]);
    // The jar sends cookies of equal paths in creation order: the file's order, which curl writes newest first.
    expect(result.stdout).toMatch(/^GET \/whoami cookie=(sid=abc123; theme=dark|theme=dark; sid=abc123) x=/);
  });

  it('-X, -H, -d, -i and -o', async () => {
    const posted = await teller(['fetch', `${base}/echo`, '-d', 'a=1', '-H', 'X-Test: yes']);
    expect(posted.stdout).toBe('POST /echo cookie= x=yes body=a=1\n');
    const put = await teller(['fetch', `${base}/echo`, '-X', 'PUT', '-d', 'z']);
    expect(put.stdout).toMatch(/^PUT \/echo .*body=z$/m);
    const included = await teller(['fetch', `${base}/echo`, '-i']);
    expect(included.stdout).toMatch(/^HTTP 200 OK\n(.*\n)*x-served: yes\n(.*\n)*\nGET \/echo/);
    const file = join(dir, 'body.txt');
    const saved = await teller(['fetch', `${base}/echo`, '-o', file]);
    expect(saved.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toMatch(/^GET \/echo/);
  });

  it('an HTTP error status exits 0, or 1 with --fail', async () => {
    expect((await teller(['fetch', `${base}/missing`])).code).toBe(0);
    const failed = await teller(['fetch', `${base}/missing`, '--fail']);
    expect(failed.code).toBe(1);
    expect(oneLine(failed)).toMatch(/HTTP 404$/);
  });

  it('bad input is a usage error (exit 2); a server that does not answer, exit 1 in one line', async () => {
    for (const args of [
      ['not a url'],
      ['ftp://example.com/'],
      [`${base}/`, '-H', 'nocolon'],
      [`${base}/`, '-X', 'GET', '-d', 'x'],
      [`${base}/`, '--max-redirs', '-1'],
      [],
    ]) {
      const result = await teller(['fetch', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
    }
    const refused = await teller(['fetch', `http://127.0.0.1:${await freePort()}/`]);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toMatch(/^teller: fetch http:\/\/127\.0\.0\.1:\d+\/ failed: .*ECONNREFUSED/);
  });

  it('a jar file that is not cookies.txt is read leniently (no cookie), and then written', async () => {
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'not a cookie file\n');
    const result = await teller(['fetch', `${base}/whoami`, '--jar', junk]);
    expect(result.code).toBe(0);
    expect(readFileSync(junk, 'utf8')).toMatch(/^# Netscape HTTP Cookie File/);
  });
});
