/**
 * `teller cookie parse '<Set-Cookie line>' [--url <url>]`: what a user agent makes of a Set-Cookie line, as
 * RFC 6265bis reads it (section 5.6, then the storage model of 5.7 with `--url`), attribute by attribute. Each
 * attribute's reading is the codec's own (`parseSetCookieDetailed` on the name-value pair and that one
 * attribute), so the explanation cannot drift from what the codec does.
 */
import type { Command } from 'commander';
import { type ParsedSetCookie, parseSetCookieDetailed } from '../cookie/index.js';
import { MAX_ATTRIBUTE_VALUE_BYTES } from '../cookie/set-cookie.js';
import { utf8Length } from '../cookie/utf8.js';
import { CookieRejectedError } from '../jar/errors.js';
import { CookieJar } from '../jar/jar.js';
import { invalid, printJson, usageError } from './output.js';

/** One cookie-av as written, and what it does. */
interface Reading {
  attribute: string;
  effect: string;
  applies: boolean;
}

const KNOWN: Record<string, string> = {
  expires: 'Expires',
  'max-age': 'Max-Age',
  domain: 'Domain',
  path: 'Path',
  secure: 'Secure',
  httponly: 'HttpOnly',
  samesite: 'SameSite',
  partitioned: 'Partitioned',
  priority: 'Priority',
};

/** What one attribute does on its own (the codec parsing `a=b; <av>`), or why it is ignored. */
function readOne(av: string, now: number): Reading {
  const eq = av.indexOf('=');
  const name = (eq === -1 ? av : av.slice(0, eq)).trim();
  const value = eq === -1 ? '' : av.slice(eq + 1).trim();
  const known = KNOWN[name.toLowerCase()];
  const reading = (effect: string, applies = true): Reading => ({ attribute: av.trim(), effect, applies });
  if (known === undefined)
    return reading(
      `ignored: ${name === '' ? 'an empty attribute' : 'an unknown attribute'} (5.6 step 7)`,
      false,
    );
  if (utf8Length(value) > MAX_ATTRIBUTE_VALUE_BYTES)
    return reading(`ignored: the value is over ${MAX_ATTRIBUTE_VALUE_BYTES} octets (5.6 step 6)`, false);
  const parsed = parseSetCookieDetailed(`a=b;${av}`, { now });
  const c = (parsed.ok ? parsed.cookie : undefined) as ParsedSetCookie;
  switch (known) {
    case 'Expires':
      return c.expires === undefined
        ? reading('ignored: not a date the cookie-date algorithm reads (5.6.1)', false)
        : reading(`expires ${c.expires.toISOString()} (5.6.1; capped at 400 days, 5.5)`);
    case 'Max-Age':
      if (c.maxAge === undefined) return reading('ignored: not an integer number of seconds (5.6.2)', false);
      return c.maxAge <= 0
        ? reading('expires the cookie at once: a Max-Age <= 0 deletes it (5.6.2)')
        : reading(`expires in ${c.maxAge} s (5.6.2; capped at 400 days, 5.5), over any Expires (5.7 step 6)`);
    case 'Domain':
      return c.domain === undefined
        ? reading('an empty Domain: the cookie is host-only (5.7 step 7)')
        : reading(
            `sent to ${c.domain} and its subdomains (a leading dot dropped, lower-cased; 5.6.3); refused unless the request host domain-matches it and it is no public suffix (5.7 steps 8-10)`,
          );
    case 'Path':
      return c.path === undefined
        ? reading('the default-path of the request URL: a Path not starting with "/" (5.6.4)')
        : reading(`sent to ${c.path} and the paths under it (5.6.4)`);
    case 'Secure':
      return reading('sent over secure connections only, and set only from one (5.6.5, 5.7 step 11)');
    case 'HttpOnly':
      return reading('hidden from scripts (document.cookie) (5.6.6)');
    case 'SameSite':
      return c.sameSite === undefined
        ? reading('an unknown value: SameSite is "Default" (5.6.7)')
        : reading(
            c.sameSite === 'None'
              ? 'sent on cross-site requests too: needs Secure, else the cookie is refused (5.7 step 19)'
              : `${c.sameSite}: ${c.sameSite === 'Strict' ? 'never sent' : 'sent only on top-level safe navigations'} with cross-site requests (5.6.7)`,
          );
    case 'Partitioned':
      return reading('partitioned by the top-level site (CHIPS)');
    default:
      return c.priority === undefined
        ? reading('an unknown value: no priority')
        : reading(`${c.priority} priority when the browser evicts (Chromium)`);
  }
}

/** The explanation of a line: the cookie, each attribute's reading, and the storage verdict for `url`. */
export function explain(line: string, url: string | undefined, now: number) {
  const parsed = parseSetCookieDetailed(line, { now });
  if (!parsed.ok) return { accepted: false, reason: parsed.reason, cookie: null, attributes: [] };
  const semi = line.indexOf(';');
  const avs = semi === -1 ? [] : line.slice(semi + 1).split(';');
  const attributes = avs.map((av) => readOne(av, now));
  // The last of each attribute wins (5.6 step 7 keeps every cookie-av; 5.7 reads the last one).
  const last = new Map<string, number>();
  avs.forEach((av, i) => {
    const name = KNOWN[(av.split('=')[0] ?? '').trim().toLowerCase()];
    const flag = name === 'Secure' || name === 'HttpOnly' || name === 'Partitioned';
    if (name !== undefined && !flag && attributes[i]!.applies) {
      const before = last.get(name);
      if (before !== undefined) {
        attributes[before]!.applies = false;
        attributes[before]!.effect = `overridden by a later ${name} (the last one counts)`;
      }
      last.set(name, i);
    }
  });
  const cookie = parsed.cookie;
  if (cookie.maxAge !== undefined && last.has('Expires')) {
    const at = last.get('Expires') as number;
    attributes[at]!.applies = false;
    attributes[at]!.effect = 'overridden: Max-Age takes precedence over Expires (5.7 step 6)';
  }
  let stored:
    | { url: string; accepted: boolean; reason?: string; hostOnly?: boolean; domain?: string }
    | undefined;
  if (url !== undefined) {
    const jar = new CookieJar();
    try {
      const kept = jar.setCookie(line, url, { now, onReject: 'throw' });
      stored =
        kept === undefined
          ? { url, accepted: true, reason: 'already expired: it deletes a cookie of that name (5.7 step 22)' }
          : { url, accepted: true, hostOnly: kept.hostOnly, domain: kept.domain };
    } catch (error) {
      if (!(error instanceof CookieRejectedError)) throw error;
      stored = { url, accepted: false, reason: error.message.replace(/^\[teller\] \[jar\] /, '') };
    }
  }
  return {
    accepted: stored?.accepted ?? true,
    cookie: {
      name: cookie.name,
      value: cookie.value,
      expiresAt: cookie.expiresAt === undefined ? null : new Date(cookie.expiresAt).toISOString(),
      domain: cookie.domain ?? null,
      path: cookie.path ?? null,
      secure: cookie.secure,
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite ?? 'Default',
      partitioned: cookie.partitioned,
      priority: cookie.priority ?? null,
    },
    attributes,
    ...(stored === undefined ? {} : { stored }),
  };
}

export function cookieCommand(program: Command): void {
  const cookie = program.command('cookie').description('explain cookies as RFC 6265bis reads them');
  cookie
    .command('parse')
    .description('explain every attribute of a Set-Cookie line, and why a user agent would reject it')
    .argument('<line>', "the Set-Cookie value (quote it: 'sid=abc; Path=/; HttpOnly')")
    .option(
      '--url <url>',
      'the URL the response came from: also check the storage rules (domain, Secure, prefixes)',
    )
    .option('--now <date>', 'the time it is received (ISO date or epoch ms)', (text: string) => {
      const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (!Number.isFinite(ms)) throw invalid('--now must be an ISO date or epoch ms');
      return ms;
    })
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      '\nExit code 0 when a user agent would keep the cookie, 1 when it would reject the line.',
    )
    .action((line: string, options: { url?: string; now?: number; json?: boolean }) => {
      if (options.url !== undefined && !URL.canParse(options.url))
        throw usageError(`--url is not a URL: ${JSON.stringify(options.url)}`);
      const result = explain(line, options.url, options.now ?? Date.now());
      if (options.json) printJson(result);
      else print(result);
      if (!result.accepted) process.exitCode = 1;
    });
}

function print(result: ReturnType<typeof explain>): void {
  const out = (text: string) => process.stdout.write(`${text}\n`);
  if (result.cookie === null) {
    out(`rejected: ${'reason' in result ? result.reason : ''}`);
    return;
  }
  const c = result.cookie;
  out(`name:       ${c.name === '' ? '(none: a nameless cookie, 5.6 step 3)' : c.name}`);
  out(`value:      ${c.value}`);
  out(`expires:    ${c.expiresAt ?? 'at the end of the browsing session (no Max-Age or Expires)'}`);
  out(`domain:     ${c.domain ?? 'host-only (no Domain)'}`);
  out(`path:       ${c.path ?? 'the default-path of the request URL (5.1.4)'}`);
  out(`secure:     ${c.secure}`);
  out(`httpOnly:   ${c.httpOnly}`);
  out(`sameSite:   ${c.sameSite}`);
  if (c.partitioned) out('partitioned: true');
  if (c.priority !== null) out(`priority:   ${c.priority}`);
  if (result.attributes.length > 0) out('attributes:');
  for (const a of result.attributes)
    out(`  ${a.attribute || '(empty)'}\n    ${a.applies ? '' : '× '}${a.effect}`);
  if (result.stored !== undefined) {
    const s = result.stored;
    out(
      s.accepted
        ? `stored from ${s.url}: ${s.reason ?? `yes, ${s.hostOnly ? `host-only for ${s.domain}` : `for ${s.domain} and its subdomains`}`}`
        : `rejected from ${s.url}: ${s.reason}`,
    );
  } else {
    out('accepted by the parser (give --url to check the storage rules: domain, Secure, prefixes)');
  }
}
