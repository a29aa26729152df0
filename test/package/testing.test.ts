/**
 * `teller/testing` as a third-party store uses it from npm: the package packed as `npm publish` would ship
 * it, unpacked into another project's node_modules beside vitest, and the "Writing a store" example of
 * docs/stores.md run there by `vitest run`, once against a good store and once against a store that breaks
 * compare-and-set.
 * Runs after `npm run build` (as `npm test` does).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeBlock } from '../support/readme.js';

const root = process.cwd();

/** The example of running the suite, in docs/stores.md ("Writing a store"). */
const readmeExample = () =>
  readmeBlock(
    'ts',
    (code) => code.includes("from 'teller/testing'"),
    "importing 'teller/testing'",
    'docs/stores.md',
  );

interface JsonReport {
  testResults: Array<{
    name: string;
    message?: string;
    assertionResults: Array<{ title: string; fullName: string; status: string }>;
  }>;
}

describe('teller/testing from the packed package', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'teller-testing-'));
  const project = path.join(dir, 'my-store');
  let report: JsonReport;
  const results = (file: string) => {
    const result = report.testResults.find((r) => path.basename(r.name) === file);
    expect(result, `${file} did not run`).toBeDefined();
    return result!;
  };

  beforeAll(() => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }),
    ) as Array<{ filename: string }>;
    const teller = path.join(project, 'node_modules', 'teller');
    mkdirSync(teller, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, packed[0]!.filename), '-C', teller, '--strip-components=1']);
    // vitest is the project's own (a peer dependency of teller/testing): the same install as this run's.
    symlinkSync(
      realpathSync(path.join(root, 'node_modules', 'vitest')),
      path.join(project, 'node_modules', 'vitest'),
    );
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-store', type: 'module' }));
    // The project's store: Teller's memory store, as installed.
    writeFileSync(
      path.join(project, 'my-store.js'),
      "export { createMemoryStore as createMyStore } from 'teller/stores/memory';\n",
    );
    writeFileSync(path.join(project, 'my-store.test.ts'), readmeExample());
    // A store that ignores `expected`: every write lands, so compare-and-set is broken.
    writeFileSync(
      path.join(project, 'broken-store.js'),
      `import { createMemoryStore } from 'teller/stores/memory';
export function createMyStore(options) {
  const store = createMemoryStore(options);
  return Object.assign(Object.create(null), store, {
    async set(key, record, expected, ttlMs) {
      await store.delete(key);
      return store.set(key, record, null, ttlMs);
    },
  });
}
`,
    );
    writeFileSync(
      path.join(project, 'broken-store.test.ts'),
      readmeExample()
        .replace("'./my-store.js'", "'./broken-store.js'")
        .replace("'my-store'", "'broken-store'"),
    );
    // The project runs its own vitest, not inside this run.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')),
    );
    try {
      execFileSync(
        process.execPath,
        [
          path.join(project, 'node_modules/vitest/vitest.mjs'),
          'run',
          '--reporter=json',
          '--outputFile=report.json',
        ],
        { cwd: project, env, encoding: 'utf8', stdio: 'pipe' },
      );
    } catch {
      // The broken store fails (exit code 1); the report says what ran.
    }
    report = JSON.parse(readFileSync(path.join(project, 'report.json'), 'utf8')) as JsonReport;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the built module and its types', () => {
    for (const file of ['dist/testing/index.js', 'dist/testing/index.d.ts']) {
      expect(existsSync(path.join(project, 'node_modules/teller', file)), file).toBe(true);
    }
  });

  it("the docs' example runs the whole contract suite and a good store passes every test", () => {
    const result = results('my-store.test.ts');
    expect(result.message ?? '').toBe('');
    const statuses = result.assertionResults.map((t) => t.status);
    expect(statuses.filter((s) => s === 'passed').length).toBeGreaterThan(40);
    expect(statuses.filter((s) => s === 'failed')).toEqual([]);
    expect(result.assertionResults.map((t) => t.fullName)).toContain(
      'store contract: my-store get returns null when the key is absent',
    );
  });

  it('a store that breaks compare-and-set fails the suite, naming the rule', () => {
    const failed = results('broken-store.test.ts')
      .assertionResults.filter((t) => t.status === 'failed')
      .map((t) => t.title);
    expect(failed).toContain('rejects a stale expected version and never overwrites the newer one');
    expect(failed).toContain(
      'with expected null returns false when the key is present, and leaves the record unchanged',
    );
  });
});
