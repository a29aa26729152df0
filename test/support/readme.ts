/** The README's code, for tests that run what it tells a user to paste. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const readme = readFileSync(path.join(process.cwd(), 'README.md'), 'utf8');

/** The first fenced code block in `language` that `matches`; throws saying `what` is missing when none does. */
export function readmeBlock(language: 'ts' | 'js', matches: (code: string) => boolean, what: string): string {
  const block = [...readme.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))]
    .map((m) => m[1] ?? '')
    .find(matches);
  if (block === undefined) throw new Error(`README.md has no \`\`\`${language} block ${what}`);
  return block;
}
