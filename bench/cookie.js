/**
 * The codec side by side with `cookie` (1.x, the line that runs on Node 20), `set-cookie-parser` and
 * `cookie-signature`, on the real headers of ../shared/conformance/bench and on hostile input.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseCookie, parseSetCookie, serializeSetCookie, sign, unsign } from '../dist/cookie/index.js';
import { compare, options } from './measure.js';

const require = createRequire(import.meta.url);
const cookie = require('cookie');
const setCookieParser = require('set-cookie-parser');
const cookieSignature = require('cookie-signature');

const shared = resolve(process.cwd(), '../shared/conformance/bench');
const cookieHeaders = Object.values(
  JSON.parse(readFileSync(resolve(shared, 'jshttp-cookie-top-cookie.json'), 'utf8')),
);
const setCookieLines = Object.values(
  JSON.parse(readFileSync(resolve(shared, 'jshttp-cookie-top-set-cookie.json'), 'utf8')),
).flat();

function row(caseName, peerName, results, unit = 'ops/s') {
  return {
    suite: 'cookie',
    case: caseName,
    unit,
    higherIsBetter: true,
    teller: results.teller,
    peer: results.peer,
    peerName,
  };
}

export async function run() {
  const rows = [];
  const now = Date.now();
  const ten = Array.from({ length: 10 }, (_, i) => `name${i}=value${i}`).join('; ');
  const hostile = ';'.repeat(100_000);
  const hostileEq = `${'a'.repeat(32_000)}=${' '.repeat(32_000)}`;

  rows.push(
    row(
      'parse Cookie: 10 pairs',
      'cookie',
      compare({ teller: () => parseCookie(ten), peer: () => cookie.parse(ten) }, options),
    ),
  );
  rows.push(
    row(
      `parse Cookie: ${cookieHeaders.length} real headers (per header)`,
      'cookie',
      scale(
        compare(
          {
            teller: each(cookieHeaders, (h) => parseCookie(h)),
            peer: each(cookieHeaders, (h) => cookie.parse(h)),
          },
          options,
        ),
        cookieHeaders.length,
      ),
    ),
  );
  rows.push(
    row(
      'parse Cookie: hostile ";" x 100,000',
      'cookie',
      compare({ teller: () => parseCookie(hostile), peer: () => cookie.parse(hostile) }, options),
    ),
  );
  rows.push(
    row(
      'parse Cookie: hostile 64 KiB name/space',
      'cookie',
      compare({ teller: () => parseCookie(hostileEq), peer: () => cookie.parse(hostileEq) }, options),
    ),
  );

  const session = { httpOnly: true, secure: true, path: '/', sameSite: 'lax', maxAge: 86400 };
  const sid = 'Yt3kFh0pQ1v9Zs8wX2uE4rT6yU7iO0pL5aS3dF9gH1j';
  rows.push(
    row(
      'serialize Set-Cookie: session cookie, 5 attributes',
      'cookie',
      compare(
        {
          teller: () => serializeSetCookie({ name: '__Host-sid', value: sid, ...session }),
          peer: () => cookie.serialize('__Host-sid', sid, session),
        },
        options,
      ),
    ),
  );

  rows.push(
    row(
      `parse Set-Cookie: ${setCookieLines.length} real lines (per line)`,
      'set-cookie-parser',
      scale(
        compare(
          {
            teller: each(setCookieLines, (l) => parseSetCookie(l, { now })),
            peer: each(setCookieLines, (l) => setCookieParser.parseString(l, { decodeValues: false })),
          },
          options,
        ),
        setCookieLines.length,
      ),
    ),
  );
  rows.push(
    row(
      `parse Set-Cookie: ${setCookieLines.length} real lines (per line)`,
      'cookie',
      scale(
        compare(
          {
            teller: each(setCookieLines, (l) => parseSetCookie(l, { now })),
            peer: each(setCookieLines, (l) => cookie.parseSetCookie(l)),
          },
          options,
        ),
        setCookieLines.length,
      ),
    ),
  );
  const hostileSet = `a=b${';'.repeat(100_000)}`;
  rows.push(
    row(
      'parse Set-Cookie: hostile ";" x 100,000',
      'set-cookie-parser',
      compare(
        {
          teller: () => parseSetCookie(hostileSet, { now }),
          peer: () => setCookieParser.parseString(hostileSet, { decodeValues: false }),
        },
        options,
      ),
    ),
  );

  const secret = 'x'.repeat(32);
  const signed = sign(sid, secret);
  rows.push(
    row(
      'sign',
      'cookie-signature',
      compare({ teller: () => sign(sid, secret), peer: () => cookieSignature.sign(sid, secret) }, options),
    ),
  );
  rows.push(
    row(
      'unsign (valid)',
      'cookie-signature',
      compare(
        { teller: () => unsign(signed, [secret]), peer: () => cookieSignature.unsign(signed, secret) },
        options,
      ),
    ),
  );
  return rows;
}

/** One benchmark call that runs `fn` over every input (results are scaled back to per-input rates). */
function each(inputs, fn) {
  return () => {
    let last;
    for (const input of inputs) last = fn(input);
    return last;
  };
}

function scale(results, n) {
  return { teller: results.teller * n, peer: results.peer * n };
}
