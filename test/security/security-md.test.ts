/**
 * SECURITY.md against the code: it covers every requirement of ASVS 5.0 V7 and V3.3 and every advisory class of
 * issue 11, and every test it names exists, is one Vitest runs, and is neither skipped nor a todo. A citation is
 * `[file.test.ts](test/dir/file.test.ts) "title"`, the title as the test file writes it, optionally preceded by
 * the titles of the describe blocks around it (`"describe > title"`). Rows marked PENDING name tests being
 * written on another branch: they are left out until the marker is removed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { markdown, section } from '../support/readme.js';

const PENDING = '(pending: issue 11, being built)';
const root = process.cwd();
const text = markdown('SECURITY.md');

/** The body rows of every Markdown table of `markdown` (header rows and rules left out), as lines. */
function tableRows(markdown: string): string[] {
  const lines = markdown.split('\n');
  return lines.filter(
    (line, i) =>
      line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line) && !/^\|[\s|:-]+\|$/.test(lines[i + 1] ?? ''),
  );
}

interface Citation {
  label: string;
  file: string;
  title: string | undefined;
}

function citations(row: string): Citation[] {
  return [...row.matchAll(/\[([^\]]+)\]\((test\/[^)]+)\)(?: "([^"]+)")?/g)].map(([, label, file, title]) => ({
    label: label!,
    file: file!,
    title,
  }));
}

/** A test of a file: its title, the titles of the describe blocks around it (null: not a literal), modifiers. */
interface TestEntry {
  title: string;
  describes: Array<string | null>;
  /** `skip`, `todo`, `each`, `skipIf`, ... of the test and of every describe around it. */
  modifiers: string[];
}

/** `it`, `test` or `describe` and the modifiers of a call's callee (`it.skip`, `it.each([...])`, ...). */
function calleeOf(node: ts.Expression): { base: string; modifiers: string[] } | undefined {
  if (ts.isIdentifier(node))
    return ['it', 'test', 'describe'].includes(node.text) ? { base: node.text, modifiers: [] } : undefined;
  if (ts.isPropertyAccessExpression(node)) {
    const inner = calleeOf(node.expression);
    return inner && { base: inner.base, modifiers: [...inner.modifiers, node.name.text] };
  }
  if (ts.isCallExpression(node)) return calleeOf(node.expression);
  return undefined;
}

/** Every test of a test file's source, found in its syntax tree (titles given as literals only). */
function testsOf(file: string, code = readFileSync(file, 'utf8')): TestEntry[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true);
  const found: TestEntry[] = [];
  const walk = (node: ts.Node, describes: Array<string | null>, modifiers: string[]): void => {
    if (ts.isCallExpression(node)) {
      const callee = calleeOf(node.expression);
      const first = node.arguments[0];
      if (callee !== undefined && first !== undefined) {
        const title =
          ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first) ? first.text : null;
        const all = [...modifiers, ...callee.modifiers];
        if (callee.base === 'describe') {
          for (const argument of node.arguments.slice(1)) walk(argument, [...describes, title], all);
          return;
        }
        if (title !== null) found.push({ title, describes, modifiers: all });
      }
    }
    ts.forEachChild(node, (child) => walk(child, describes, modifiers));
  };
  walk(source, [], []);
  return found;
}

const rows = tableRows(text);
const live = rows.filter((row) => !row.includes(PENDING));

describe('SECURITY.md covers the standard and the advisories', () => {
  it('has a row for every requirement of ASVS 5.0 V7 and of V3.3', () => {
    const v7 = tableRows(section(text, '## ASVS 5.0, V7 Session Management')).map((row) =>
      row.split('|')[1]!.trim(),
    );
    const expected = { 1: 3, 2: 4, 3: 2, 4: 5, 5: 3, 6: 2 };
    for (const [group, count] of Object.entries(expected))
      for (let n = 1; n <= count; n++) expect(v7).toContain(`7.${group}.${n}`);
    expect(new Set(v7).size).toBe(19);
    const v33 = tableRows(section(text, '## ASVS 5.0, V3.3 Cookie Setup')).map((row) =>
      row.split('|')[1]!.trim(),
    );
    expect(v33).toEqual(['3.3.1', '3.3.2', '3.3.3', '3.3.4', '3.3.5']);
  });

  it('has a row for every advisory class of issue 11', () => {
    const advisories = section(text, '## Advisories');
    for (const name of [
      'CVE-2024-47764',
      'CVE-2023-26136',
      'cookie-signature',
      'CVE-2024-31999',
      'CVE-2024-35220',
      'CVE-2022-25896',
      'CVE-2025-46344',
      'CVE-2026-9679',
      'CVE-2023-45143',
      'CVE-2026-39410',
      'CVE-2019-16782',
      'CVE-2015-5963',
    ])
      expect(advisories).toContain(name);
  });

  it('has a section on reporting a vulnerability', () => {
    expect(section(text, '## Reporting a vulnerability')).toMatch(/privately/);
  });
});

describe('the tests SECURITY.md names', () => {
  it('every row names at least one test by file and title, or is marked pending', () => {
    expect(rows.length).toBeGreaterThan(40);
    for (const row of live) {
      const named = citations(row).filter((c) => c.title !== undefined);
      expect(named.length, row.slice(0, 80)).toBeGreaterThan(0);
    }
    // A pending row still names the file being written, so the marker is all there is to remove.
    for (const row of rows.filter((r) => r.includes(PENDING)))
      expect(citations(row).length, row.slice(0, 80)).toBeGreaterThan(0);
  });

  it('are test files Vitest runs, each holding a test of that title, neither skipped nor a todo', () => {
    const cited = live.flatMap(citations);
    expect(cited.length).toBeGreaterThan(50);
    const parsed = new Map<string, TestEntry[]>();
    for (const { label, file, title } of cited) {
      expect(label, file).toBe(path.basename(file));
      // vitest.config.ts includes test/**/*.test.ts.
      expect(file, 'a file Vitest runs').toMatch(/^test\/.+\.test\.ts$/);
      const where = path.join(root, file);
      expect(existsSync(where), `${file} exists`).toBe(true);
      if (title === undefined) continue;
      if (!parsed.has(file)) parsed.set(file, testsOf(where));
      const parts = title.split(' > ');
      const last = parts.pop()!;
      const matches = parsed
        .get(file)!
        .filter(
          (test) =>
            test.title === last &&
            (parts.length === 0 || parts.every((part, i) => test.describes.at(i - parts.length) === part)),
        );
      expect(matches.length, `${file} has a test titled "${title}"`).toBeGreaterThan(0);
      for (const test of matches)
        expect(
          test.modifiers.filter((m) => m === 'skip' || m === 'todo'),
          `"${title}" in ${file} is neither skipped nor a todo`,
        ).toEqual([]);
    }
  });
});

describe('the citation checker itself', () => {
  const sample = path.join(root, 'test/security/security-md.test.ts');
  const tests = testsOf(sample);

  it('finds tests by title with their describe blocks, and sees no test where there is none', () => {
    expect(tests.find((t) => t.title === 'has a section on reporting a vulnerability')?.describes).toEqual([
      'SECURITY.md covers the standard and the advisories',
    ]);
    expect(tests.some((t) => t.title === 'SECURITY.md covers the standard and the advisories')).toBe(false);
  });

  it('reads it.each titles and the skip and todo modifiers of tests and their describe blocks', () => {
    const file = path.join(root, 'test/cookie/sign.test.ts');
    expect(testsOf(file).find((t) => t.title === 'rejects %s')?.modifiers).toEqual(['each']);
    const code = [
      "describe.skip('a', () => { it('b', () => {}); it.todo('c'); });",
      `describe(\`d \${1}\`, () => { it.skipIf(true)('e', () => {}); });`,
      "it.each([1])('f %s', () => {});",
      "other('g', () => {});",
    ].join('\n');
    expect(testsOf('x.test.ts', code)).toEqual([
      { title: 'b', describes: ['a'], modifiers: ['skip'] },
      { title: 'c', describes: ['a'], modifiers: ['skip', 'todo'] },
      { title: 'e', describes: [null], modifiers: ['skipIf'] },
      { title: 'f %s', describes: [], modifiers: ['each'] },
    ]);
  });
});
