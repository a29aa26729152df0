import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared material beside the repository (`../shared`). */
export const SHARED = resolve(process.cwd(), '../shared');

/** Reads a JSON file of ../shared, dropping leading `//` licence lines. */
export function readShared<T = unknown>(relative: string): T {
  const text = readFileSync(resolve(SHARED, relative), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('//'))
    .join('\n');
  return JSON.parse(text) as T;
}

/** The fixed clock of the conformance data (conformance/README.md). */
export const CONFORMANCE_NOW = Date.UTC(2026, 0, 1);
