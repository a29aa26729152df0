/**
 * The cookie jar side by side with tough-cookie (its synchronous API, the same `now`): storing 1,000
 * cookies across 100 domains, the Cookie header for 1,000 URLs (10 of the 1,000 cookies match each),
 * serializing and deserializing that jar, and the heap it takes; the first two again with the jar's Chromium
 * profile (`profile: 'chromium'`, issue 18) beside the RFC rows, against the same tough-cookie. Run with `node --expose-gc` for the
 * memory row (without it, the flag is switched on at run time).
 * `TELLER_JAR_DIST=/path/to/dist/jar/index.js` measures another build (default: ../dist/jar/index.js).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compare, options } from './measure.js';

const require = createRequire(import.meta.url);
const tough = require('tough-cookie');
const { CookieJar } = await import(
  process.env.TELLER_JAR_DIST ? pathToFileURL(process.env.TELLER_JAR_DIST).href : '../dist/jar/index.js'
);

const DOMAINS = 100;
const PER_DOMAIN = 10;

/**
 * 10 cookies per domain, as sites send them: host-only and Domain cookies, HttpOnly, Secure,
 * SameSite, Max-Age and Expires, root and sub paths. Every one is sent to https://www.siteN.com/app/….
 */
function workload() {
  const sets = [];
  for (let d = 0; d < DOMAINS; d++) {
    const url = `https://www.site${d}.com/app/login`;
    const v = (k) => `v${d}x${k}abcdefghijklmnop`;
    sets.push(
      [`sid=${v(0)}; Path=/; HttpOnly; Secure; SameSite=Lax`, url],
      [`csrf=${v(1)}; Path=/; Secure; SameSite=Strict`, url],
      [`pref=${v(2)}; Path=/; Max-Age=86400`, url],
      [`lang=${v(3)}; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT`, url],
      [`_ga=${v(4)}; Domain=site${d}.com; Path=/; Max-Age=3600`, url],
      [`_gid=${v(5)}; Domain=.site${d}.com; Path=/`, url],
      [`consent=${v(6)}; Domain=site${d}.com; Path=/; SameSite=Lax`, url],
      [`cart=${v(7)}; Path=/app`, url],
      [`view=${v(8)}`, url],
      [`ab=${v(9)}; Path=/app; Secure; HttpOnly`, url],
    );
  }
  const urls = [];
  for (let i = 0; i < DOMAINS * PER_DOMAIN; i++) {
    urls.push(`https://www.site${i % DOMAINS}.com/app/item${i}?ref=${i % 7}`);
  }
  return { sets, urls };
}

function fillTeller(sets, now, profile = 'rfc') {
  const jar = new CookieJar({ profile });
  for (const [line, url] of sets) jar.setCookie(line, url, { now });
  return jar;
}

function fillTough(sets, now) {
  const jar = new tough.CookieJar();
  for (const [line, url] of sets) jar.setCookieSync(line, url, { now });
  return jar;
}

function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

/** Heap bytes per jar: `copies` jars built and kept alive, measured after full collections. */
function heapPerJar(build, copies = 20) {
  const gc = getGc();
  const keep = [];
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < copies; i++) keep.push(build());
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (keep.length !== copies) throw new Error('unreachable');
  return (after - before) / copies;
}

function row(caseName, results, unit = 'ops/s', higherIsBetter = true, scale = 1) {
  return {
    suite: 'jar',
    case: caseName,
    unit,
    higherIsBetter,
    teller: results.teller * scale,
    peer: results.peer * scale,
    peerName: 'tough-cookie',
  };
}

export async function run() {
  const { sets, urls } = workload();
  const now = Date.now();
  const nowDate = new Date(now);
  const rows = [];

  // Both jars must agree before anything is timed.
  const tellerJar = fillTeller(sets, now);
  const toughJar = fillTough(sets, nowDate);
  for (const url of urls) {
    const a = tellerJar.getCookieHeader(url, { now });
    const b = toughJar.getCookieStringSync(url, { now: nowDate });
    if (a !== b) throw new Error(`bench/jar: the jars disagree for ${url}:\n  teller ${a}\n  tough  ${b}`);
    if (a.split('; ').length !== 10) throw new Error(`bench/jar: expected 10 cookies for ${url}, got ${a}`);
  }
  if (tellerJar.size !== DOMAINS * PER_DOMAIN) throw new Error('bench/jar: teller stored the wrong number');
  // The Chromium profile gives the same headers on this workload (nothing in it is a case where they differ).
  const chromiumJar = fillTeller(sets, now, 'chromium');
  for (const url of urls) {
    if (chromiumJar.getCookieHeader(url, { now }) !== tellerJar.getCookieHeader(url, { now }))
      throw new Error(`bench/jar: the Chromium profile disagrees for ${url}`);
  }

  const store = compare(
    { teller: () => fillTeller(sets, now), peer: () => fillTough(sets, nowDate) },
    options,
  );
  rows.push(row('store 1,000 cookies across 100 domains (cookies/s)', store, 'ops/s', true, sets.length));

  let i = 0;
  let j = 0;
  const headers = compare(
    {
      teller: () => tellerJar.getCookieHeader(urls[i++ % urls.length], { now }),
      peer: () => toughJar.getCookieStringSync(urls[j++ % urls.length], { now: nowDate }),
    },
    options,
  );
  rows.push(row('Cookie header for 1,000 URLs, 10 of 1,000 match (headers/s)', headers));

  const chromiumStore = compare(
    { teller: () => fillTeller(sets, now, 'chromium'), peer: () => fillTough(sets, nowDate) },
    options,
  );
  rows.push(
    row(
      'store 1,000 cookies, 100 domains, Chromium profile (cookies/s)',
      chromiumStore,
      'ops/s',
      true,
      sets.length,
    ),
  );
  let k = 0;
  let l = 0;
  const chromiumHeaders = compare(
    {
      teller: () => chromiumJar.getCookieHeader(urls[k++ % urls.length], { now }),
      peer: () => toughJar.getCookieStringSync(urls[l++ % urls.length], { now: nowDate }),
    },
    options,
  );
  rows.push(row('Cookie header for 1,000 URLs, Chromium profile (headers/s)', chromiumHeaders));

  const tellerText = JSON.stringify(tellerJar);
  const toughText = JSON.stringify(toughJar.serializeSync());
  rows.push(
    row(
      'serialize the 1,000-cookie jar to JSON text (ops/s)',
      compare(
        { teller: () => JSON.stringify(tellerJar), peer: () => JSON.stringify(toughJar.serializeSync()) },
        options,
      ),
    ),
  );
  rows.push(
    row(
      'deserialize the 1,000-cookie jar from JSON text (ops/s)',
      compare(
        {
          teller: () => CookieJar.fromJSON(tellerText, { now }),
          peer: () => tough.CookieJar.deserializeSync(toughText),
        },
        options,
      ),
    ),
  );

  rows.push(
    row(
      'heap of a jar holding the 1,000 cookies (bytes)',
      { teller: heapPerJar(() => fillTeller(sets, now)), peer: heapPerJar(() => fillTough(sets, nowDate)) },
      'bytes',
      false,
    ),
  );
  return rows;
}
