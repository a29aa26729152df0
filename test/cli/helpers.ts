/**
 * Runs the built `teller` command (`node dist/cli/index.js`, as npm's bin runs it) and answers its exit code,
 * stdout and stderr. The CLI tests run what is built: `npm run build` first (`npm test` does).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const CLI = resolve(root, 'dist/cli/index.js');

/** Throws unless dist/cli is built and newer than every source of the CLI. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error('dist/cli/index.js is missing: run `npm run build` first');
  const built = statSync(CLI).mtimeMs;
  for (const name of readdirSync(resolve(root, 'src/cli'))) {
    if (statSync(resolve(root, 'src/cli', name)).mtimeMs > built)
      throw new Error(`src/cli/${name} is newer than dist/cli: run \`npm run build\` first`);
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `teller ...args` (no TELLER_STORE from the environment, unless `env` sets it). */
export function teller(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { TELLER_STORE: _ignored, ...inherited } = process.env;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...inherited, ...env }, encoding: 'utf8', timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Checks that a failure was reported as one line on stderr, without a stack trace. */
export function oneLine(run: Run): string {
  const lines = run.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || /\n\s+at /.test(run.stderr))
    throw new Error(`stderr is not one line:\n${run.stderr}`);
  return lines[0] as string;
}
