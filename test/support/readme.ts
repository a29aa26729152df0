/**
 * The README's code (and that of the docs it links to), for tests that run what it tells a user to paste.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = process.cwd();

/** A Markdown file of the repository (`README.md`, `docs/stores.md`), as text. */
export const markdown = (file: string): string => readFileSync(path.join(root, file), 'utf8');

export const readme = markdown('README.md');

/**
 * The text of a section of `text`: from its heading (`## Title` or `### Title`, given with its hashes) to the
 * next heading of the same level or higher; throws when the heading is missing.
 */
export function section(text: string, heading: string): string {
  const level = heading.indexOf(' ');
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no heading "${heading}"`);
  const body = text.slice(start + heading.length + 2);
  const end = body.search(new RegExp(`^#{1,${level}} `, 'm'));
  return end === -1 ? body : body.slice(0, end);
}

/** Every fenced code block in `language` of `text`, in order. */
export function codeBlocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '');
}

/**
 * The first fenced code block in `language` of `file` (the README unless named) that `matches`; throws saying
 * `what` is missing when none does.
 */
export function readmeBlock(
  language: 'ts' | 'js',
  matches: (code: string) => boolean,
  what: string,
  file = 'README.md',
): string {
  const block = codeBlocks(markdown(file), language).find(matches);
  if (block === undefined) throw new Error(`${file} has no \`\`\`${language} block ${what}`);
  return block;
}

/**
 * A project in a temporary directory that installed Teller (this repository, built) and `packages` (linked
 * from this repository's node_modules), with `files` written into it. `remove()` deletes it.
 */
export function pastedProject(
  files: Record<string, string>,
  packages: readonly string[] = [],
): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'teller-readme-'));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(root, path.join(dir, 'node_modules', 'teller'));
  for (const name of packages) {
    const link = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(root, 'node_modules', name), link);
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A pasted server, running. */
export interface PastedServer {
  child: ChildProcess;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  stop(): void;
}

/**
 * Runs `node <file>` in `dir` with `env` added, and resolves once `url` answers HTTP (a HEAD request); throws
 * with the server's output when it exits first or does not answer within 10 s.
 */
export async function startPasted(
  dir: string,
  file: string,
  url: string,
  env: Record<string, string> = {},
): Promise<PastedServer> {
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk) => (text += chunk));
  child.stderr?.on('data', (chunk) => (text += chunk));
  const server = { child, output: () => text, stop: () => void child.kill() };
  for (let tries = 0; ; tries++) {
    try {
      await fetch(url, { method: 'HEAD' });
      return server;
    } catch (error) {
      if (tries === 200 || child.exitCode !== null) {
        server.stop();
        throw new Error(`${file} did not start: ${text}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
