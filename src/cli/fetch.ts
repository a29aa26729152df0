/**
 * `teller fetch <url> --jar cookies.txt`: one request with a cookie jar kept in curl's `cookies.txt` format
 * (read before, written after), redirects followed hop by hop with each hop's cookies (`fetchWithJar`). The
 * body goes to stdout (or `--output`), the status line and headers too with `--include`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fetchWithJar } from '../jar/fetch.js';
import { CookieJar } from '../jar/jar.js';
import { CliError, invalid, messageOf, usageError } from './output.js';

interface FetchOptions {
  jar?: string;
  request?: string;
  header: string[];
  data?: string;
  include?: boolean;
  output?: string;
  fail?: boolean;
  maxRedirs: number;
}

const collect = (value: string, list: string[]) => [...list, value];

export function fetchCommand(program: Command): void {
  program
    .command('fetch')
    .description('fetch a URL with a cookie jar kept in curl’s cookies.txt format')
    .argument('<url>', 'an http: or https: URL')
    .option('-j, --jar <file>', 'the cookies.txt to read (when it exists) and write back (curl -b/-c, wget)')
    .option('-X, --request <method>', 'the method (default GET, or POST with --data)')
    .option('-H, --header <line>', "a request header, 'Name: value' (repeatable)", collect, [])
    .option('-d, --data <body>', 'a request body (sent with POST unless -X says otherwise)')
    .option('-i, --include', 'print the status line and response headers before the body')
    .option('-o, --output <file>', 'write the body to this file instead of stdout')
    .option('-f, --fail', 'exit 1 on an HTTP status of 400 or more')
    .option(
      '--max-redirs <n>',
      'the most redirects followed',
      (text: string) => {
        const n = Number(text);
        if (!/^\d+$/.test(text) || !Number.isSafeInteger(n))
          throw invalid('--max-redirs must be a whole number');
        return n;
      },
      20,
    )
    .addHelpText(
      'after',
      '\nExample:\n  teller fetch https://example.com/login -d user=ann -j cookies.txt\n  curl -b cookies.txt https://example.com/account',
    )
    .action(async (target: string, options: FetchOptions) => {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        throw usageError(`not a URL: ${JSON.stringify(target)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw usageError(`not an http(s) URL: ${url.href}`);
      const headers = new Headers();
      for (const line of options.header) {
        const colon = line.indexOf(':');
        if (colon < 1) throw usageError(`--header must be 'Name: value', not ${JSON.stringify(line)}`);
        try {
          headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        } catch {
          throw usageError(`--header is not a valid header: ${JSON.stringify(line)}`);
        }
      }
      const jar = readJar(options.jar);
      const method = (options.request ?? (options.data === undefined ? 'GET' : 'POST')).toUpperCase();
      if (options.data !== undefined && (method === 'GET' || method === 'HEAD'))
        throw usageError(`--data cannot go with ${method}: a ${method} request has no body`);
      if (options.data !== undefined && !headers.has('content-type'))
        headers.set('content-type', 'application/x-www-form-urlencoded');
      let response: Response;
      try {
        response = await fetchWithJar(jar, globalThis.fetch, { maxRedirects: options.maxRedirs })(url, {
          method,
          headers,
          ...(options.data === undefined ? {} : { body: options.data }),
        });
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        throw new CliError(`fetch ${url.href} failed: ${messageOf(cause instanceof Error ? cause : error)}`);
      }
      const body = Buffer.from(await response.arrayBuffer());
      if (options.jar !== undefined) writeFileSync(options.jar, jar.toNetscape());
      if (options.include) {
        let head = `HTTP ${response.status} ${response.statusText}\n`;
        for (const [name, value] of response.headers) head += `${name}: ${value}\n`;
        process.stdout.write(`${head}\n`);
      }
      if (options.output !== undefined) writeFileSync(options.output, body);
      else process.stdout.write(body);
      if (options.fail && response.status >= 400) throw new CliError(`${url.href}: HTTP ${response.status}`);
    });
}

/** The jar in `file` (curl's cookies.txt), or an empty one when there is no file yet. */
function readJar(file: string | undefined): CookieJar {
  if (file === undefined || !existsSync(file)) return new CookieJar();
  try {
    return CookieJar.fromNetscape(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`cannot read the jar ${file}: ${messageOf(error)}`);
  }
}
