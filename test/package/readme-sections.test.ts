/**
 * The README's sections that state facts about the code, checked against it: the options table lists exactly
 * the options `createSessionManager` takes, with the defaults the code applies; every test and bench row the
 * "Why Teller" table names exists; the sequence diagram is a well-formed mermaid `sequenceDiagram`; the links
 * between the README and docs/ reach files and headings that exist.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCookiePolicy, type SessionCookieOptions } from '../../src/session/cookie-policy.js';
import { COOKIE_OPTION_NAMES, OPTION_NAMES } from '../../src/session/option-names.js';
import { DEFAULTS, resolveOptions, type SessionManagerOptions } from '../../src/session/options.js';
import { jsonSerializer } from '../../src/session/serializer.js';
import { TestStore } from '../session/helpers.js';
import { codeBlocks, readme, section } from '../support/readme.js';

/** The rows of the first Markdown table of `text`, as cells (the header and its rule left out). */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((line) => line.startsWith('|'));
  return lines.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim()),
  );
}

describe("the README's options table", () => {
  const rows = tableRows(section(readme, '## Options'));
  const named = rows.map(([name]) => /^`([^`]+)`$/.exec(name ?? '')?.[1]);

  it('names one option per row, in backticks', () => {
    expect(rows.length).toBeGreaterThan(0);
    for (const [i, name] of named.entries()) expect(name, `row ${i + 1}: ${rows[i]![0]}`).toBeDefined();
  });

  it("lists exactly the code's options: SessionManagerOptions, with cookie's one by one", () => {
    // The names the code checks at run time are those of the types (a name missing or extra here fails typecheck).
    const typed = {
      store: true,
      seal: true,
      cookie: true,
      idleTimeout: true,
      absoluteTimeout: true,
      renewAfter: true,
      renewGrace: true,
      rememberMe: true,
      rememberMeAbsolute: true,
      anonymousLifetime: true,
      secret: true,
      legacyCookies: true,
      serializer: true,
      maxDataBytes: true,
      sealedMaxBytes: true,
      storeTimeout: true,
      lockTimeout: true,
      touchInterval: true,
      logger: true,
      bruteForce: true,
      clearSiteData: true,
      onEvent: true,
      reuse: true,
      clock: true,
      random: true,
    } satisfies Record<keyof SessionManagerOptions, true>;
    const typedCookie = {
      name: true,
      secure: true,
      sameSite: true,
      path: true,
      domain: true,
    } satisfies Record<keyof SessionCookieOptions, true>;
    expect(new Set(Object.keys(typed))).toEqual(OPTION_NAMES);
    expect(new Set(Object.keys(typedCookie))).toEqual(COOKIE_OPTION_NAMES);

    const expected = [
      ...[...OPTION_NAMES].filter((name) => name !== 'cookie'),
      ...[...COOKIE_OPTION_NAMES].map((name) => `cookie.${name}`),
    ];
    expect([...named].sort()).toEqual(expected.sort());
  });

  it('states the defaults the code applies', () => {
    const resolved = resolveOptions({ store: new TestStore() });
    const policy = resolveCookiePolicy();
    const units: Record<string, number> = {
      ms: 1,
      s: 1000,
      min: 60_000,
      h: 3_600_000,
      d: 86_400_000,
      KiB: 1024,
    };
    const unset = (text: string) => /^(none|off)\b/.test(text);
    for (const [name, stated] of rows.map(([cell, text]) => [cell!.slice(1, -1), text!] as const)) {
      if (Object.hasOwn(DEFAULTS, name)) {
        // A duration or a size: the figure and its unit, then anything.
        const m = /^(\d+) (ms|s|min|h|d|KiB)\b/.exec(stated);
        expect(m, `${name}: "${stated}" starts with an amount`).not.toBeNull();
        const value = Number(m![1]) * units[m![2]!]!;
        expect(value, name).toBe(DEFAULTS[name as keyof typeof DEFAULTS]);
        expect(value, name).toBe(resolved[name as keyof typeof DEFAULTS]);
      } else if (name.startsWith('cookie.')) {
        const field = name.slice('cookie.'.length);
        if (field === 'name') {
          // Derived from the request: __Host-Http-sid over HTTPS, sid over http.
          expect(policy.explicitName).toBeUndefined();
          expect(stated).toContain('`__Host-Http-sid` over HTTPS');
          expect(stated).toContain('`sid` over http');
        } else if (field === 'domain') {
          expect(policy.domain).toBeUndefined();
          expect(unset(stated), `${name}: "${stated}"`).toBe(true);
        } else {
          const literal = /^`'([^']*)'`$/.exec(stated)?.[1];
          expect(literal, `${name}: "${stated}" is a quoted literal`).toBeDefined();
          expect(literal).toBe(String(policy[field as 'secure' | 'sameSite' | 'path']));
        }
      } else if (name === 'clock') {
        expect(resolved.clock).toBe(Date.now);
        expect(stated).toBe('`Date.now`');
      } else if (name === 'bruteForce' || name === 'clearSiteData') {
        // An object of defaults, each stated as `field: value` in the cell.
        const defaults = resolved[name] as Record<string, unknown>;
        for (const [field, value] of Object.entries(defaults)) {
          const literal =
            typeof value === 'string' ? `'${value}'` : String(value).replace(/(\d)(?=(\d{3})+$)/g, '$1_');
          expect(stated, `${name}.${field}`).toContain(`${field}: ${literal}`);
        }
      } else if (name === 'reuse') {
        expect(resolved.reuse).toBe('event');
        expect(stated).toMatch(/^`'event'`/);
      } else if (name === 'serializer') {
        expect(resolved.serializer).toBe(jsonSerializer);
        expect(stated).toBe('JSON');
      } else {
        // No default value: the option is off or absent unless given.
        const key = ({ secret: 'secrets', seal: 'sealKeys' } as Record<string, string>)[name] ?? name;
        if (name !== 'store') expect(resolved[key as keyof typeof resolved], name).toBeUndefined();
        expect(unset(stated), `${name}: "${stated}" says none or off`).toBe(true);
      }
    }
  });
});

describe('the "Why Teller" table', () => {
  const rows = tableRows(section(readme, '## Why Teller'));
  const bench = readFileSync(path.join(process.cwd(), 'bench/http.js'), 'utf8');

  it('backs every row with a named test or a bench row', () => {
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const evidence = row.at(-1) ?? '';
      expect(evidence, row[0]).toMatch(/\]\(test\/[^)]+\) "|`npm run bench`: row "/);
    }
  });

  it('names test files that exist and hold a test of that title', () => {
    const cited = [...section(readme, '## Why Teller').matchAll(/\[([^\]]+)\]\((test\/[^)]+)\) "([^"]+)"/g)];
    expect(cited.length).toBeGreaterThan(10);
    for (const [, label, file, title] of cited) {
      expect(label, file).toBe(path.basename(file!));
      const where = path.join(process.cwd(), file!);
      expect(existsSync(where), `${file} exists`).toBe(true);
      const source = readFileSync(where, 'utf8');
      const quoted = ["'", '"', '`'].some((quote) => source.includes(`${quote}${title}${quote}`));
      expect(quoted, `${file} has a test titled "${title}"`).toBe(true);
    }
  });

  it('names bench rows that bench/http.js prints (each part of the row name is in it)', () => {
    const cited = [...section(readme, '## Why Teller').matchAll(/`npm run bench`: row "([^"]+)"/g)];
    expect(cited.length).toBeGreaterThan(0);
    for (const [, row] of cited) {
      for (const part of row!.split(/ vs |, |: /)) {
        expect(bench.includes(part), `"${part}" of bench row "${row}" is in bench/http.js`).toBe(true);
      }
    }
  });
});

describe("the README's sequence diagram", () => {
  const blocks = codeBlocks(readme, 'mermaid');

  it('is one mermaid sequenceDiagram of declared participants, without statement separators', () => {
    expect(blocks).toHaveLength(1);
    const [kind, ...lines] = blocks[0]!.trimEnd().split('\n');
    expect(kind).toBe('sequenceDiagram');
    const participants = new Set<string>();
    for (const line of lines.map((l) => l.trim())) {
      // A ';' ends a statement in mermaid, and '#' starts an entity code: neither belongs in a message.
      expect(line, 'no ; or #').not.toMatch(/[;#]/);
      const declared = /^participant (\w+) as .+$/.exec(line);
      if (declared) {
        participants.add(declared[1]!);
        continue;
      }
      if (line === 'autonumber') continue;
      const note = /^Note over (\w+): .+$/.exec(line);
      const message = /^(\w+)--?>>(\w+): .+$/.exec(line);
      expect(note ?? message, `a note or a message: ${line}`).not.toBeNull();
      for (const who of (note ?? message)!.slice(1, 3).filter(Boolean)) expect(participants).toContain(who);
    }
  });

  it('shows the cycle: Set-Cookie, the Cookie sent back, the id rotated at login, the cookie cleared at logout', () => {
    const diagram = blocks[0]!;
    for (const step of [
      'Set-Cookie: sid=A',
      'Cookie: sid=A',
      'login',
      'Set-Cookie: sid=B',
      'logout',
      'Max-Age=0',
    ])
      expect(diagram).toContain(step);
  });
});

describe('links between the README and the docs', () => {
  const root = process.cwd();
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).map((name) => `docs/${name}`)].filter(
    (file) => file.endsWith('.md'),
  );
  /** The text outside fenced code blocks. */
  const prose = (file: string) => readFileSync(path.join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  /** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
  const anchors = (file: string) =>
    new Set(
      [...prose(file).matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, '')
          .replace(/\s/g, '-'),
      ),
    );

  it('reach files that exist, and headings that exist in them', () => {
    let checked = 0;
    for (const file of files) {
      for (const [, target] of prose(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [where = '', anchor] = target!.split('#');
        const linked =
          where === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), where));
        checked++;
        expect(existsSync(path.join(root, linked)), `${file} links to ${linked}`).toBe(true);
        if (anchor !== undefined) expect(anchors(linked), `${file} links to ${target}`).toContain(anchor);
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
