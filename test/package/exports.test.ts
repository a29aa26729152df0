/**
 * The published shape of the package: every public source module has a subpath export, every
 * export has its built files, and both ESM `import` and CommonJS `require()` load each subpath by
 * the package's own name. Runs after `npm run build` (as `npm test` does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = process.cwd();
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};

/** Public entry modules: src/index.ts, src/<part>/index.ts, and each file of src/stores and src/adapters. */
function entryModules(): Map<string, string> {
  const entries = new Map<string, string>();
  if (existsSync(resolve(root, 'src/index.ts'))) entries.set('.', 'src/index.ts');
  for (const part of ['cookie', 'jar', 'testing']) {
    if (existsSync(resolve(root, `src/${part}/index.ts`))) entries.set(`./${part}`, `src/${part}/index.ts`);
  }
  for (const dir of ['stores', 'adapters']) {
    const full = resolve(root, 'src', dir);
    if (!existsSync(full)) continue;
    for (const file of readdirSync(full)) {
      // Files starting with "_" are private helpers shared inside the folder.
      if (!file.endsWith('.ts') || file.startsWith('_')) continue;
      entries.set(`./${dir}/${file.slice(0, -3)}`, `src/${dir}/${file}`);
    }
  }
  return entries;
}

const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
const specifier = (subpath: string) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);
/** Subpaths that import 'vitest' (an optional peer), which loads only inside a Vitest run: checked in this one. */
const inVitest = new Set(['./testing']);
/** An export's names, without the ones ESM and CommonJS add. */
const names = (module: object) =>
  Object.keys(module)
    .filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports')
    .sort();

describe('package exports', () => {
  it('exports every public source module', () => {
    for (const [subpath, file] of entryModules()) {
      expect(pkg.exports[subpath], `${file} has no export "${subpath}" in package.json`).toBeDefined();
    }
  });

  it('has a source module for every export', () => {
    const entries = entryModules();
    for (const subpath of subpaths)
      expect(entries.has(subpath), `export "${subpath}" has no source`).toBe(true);
  });

  it('has the built JavaScript and declaration file of every export', () => {
    for (const subpath of subpaths) {
      const target = pkg.exports[subpath];
      expect(typeof target, subpath).toBe('object');
      if (typeof target !== 'object') continue;
      for (const file of [target.types, target.default]) {
        expect(existsSync(resolve(root, file)), `${subpath}: ${file} is missing (run npm run build)`).toBe(
          true,
        );
      }
    }
  });

  it('loads every subpath by name with import() and with require(), with the same exports', () => {
    const outside = subpaths.filter((s) => !inVitest.has(s));
    const script = `
      const subpaths = ${JSON.stringify(outside.map(specifier))};
      const out = {};
      (async () => {
        for (const s of subpaths) {
          const esm = Object.keys(await import(s)).filter((k) => k !== 'default' && k !== 'module.exports').sort();
          const cjs = Object.keys(require(s)).filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports').sort();
          out[s] = { esm, cjs };
        }
        process.stdout.write(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const stdout = execFileSync(process.execPath, ['--no-warnings', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    const loaded = JSON.parse(stdout) as Record<string, { esm: string[]; cjs: string[] }>;
    for (const subpath of outside) {
      const { esm, cjs } = loaded[specifier(subpath)] ?? { esm: [], cjs: [] };
      expect(esm.length, `${specifier(subpath)} exports nothing`).toBeGreaterThan(0);
      expect(cjs, `require('${specifier(subpath)}')`).toEqual(esm);
    }
  });

  it('the postgres store takes a Pool you pass: its built files neither import pg nor name its types', () => {
    for (const file of ['dist/stores/postgres.js', 'dist/stores/postgres.d.ts']) {
      const text = readFileSync(resolve(root, file), 'utf8');
      // Statements only (the JSDoc example shows a user's `import pg from 'pg'`).
      expect(text, file).not.toMatch(
        /^(import|export)\b[^\n]*['"]pg['"]|require\(['"]pg['"]\)|import\(['"]pg['"]\)/m,
      );
    }
  });

  it('loads teller/testing inside Vitest by name with import() and with require(), with the same exports', async () => {
    expect(pkg.exports['./testing'], 'package.json has no export "./testing"').toBeDefined();
    const require = createRequire(resolve(root, 'package.json'));
    for (const subpath of inVitest) {
      const esm = names(await import(/* @vite-ignore */ specifier(subpath)));
      expect(esm).toEqual(expect.arrayContaining(['fullRecord', 'minimalRecord', 'runStoreContract']));
      expect(names(require(specifier(subpath))), `require('${specifier(subpath)}')`).toEqual(esm);
    }
  });
});
