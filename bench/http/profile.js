/**
 * Summarizes a V8 `.cpuprofile` (from `BENCH_HTTP_PROF=<dir>`, or `node --cpu-prof`):
 * `node bench/http/profile.js <file.cpuprofile> [top=25] [requests served]`.
 *
 * Prints the functions with the most self time, and the Teller functions with the most inclusive time, each
 * as a share of the busy (non-idle) samples. Positions in the built package are mapped back to `src/*.ts:line`
 * through the `.js.map` next to each file, so the hot spots can be found in the source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [file, topText = '25', requestsText] = process.argv.slice(2);
/** Requests the profiled process served over its life (bench/http.js prints it): adds a us/request column. */
const requests = requestsText ? Number(requestsText) : undefined;
if (!file) {
  console.error('usage: node bench/http/profile.js <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topText);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// ---- source maps: generated (line, column) -> original file:line ----
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decodes one line's VLQ segments. */
function decodeSegments(text) {
  const segments = [];
  for (const part of text.split(',')) {
    if (part === '') continue;
    const values = [];
    let value = 0;
    let shift = 0;
    for (const c of part) {
      const digit = B64_INDEX.get(c);
      value += (digit & 31) << shift;
      if (digit & 32) shift += 5;
      else {
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0;
        shift = 0;
      }
    }
    segments.push(values);
  }
  return segments;
}

const maps = new Map();
/** The parsed source map of a built file: per generated line, segments `[column, source, line]` (absolute). */
function mapOf(path) {
  if (maps.has(path)) return maps.get(path);
  let result = null;
  const mapPath = `${path}.map`;
  if (existsSync(mapPath)) {
    const raw = JSON.parse(readFileSync(mapPath, 'utf8'));
    const lines = [];
    let source = 0;
    let line = 0;
    for (const text of raw.mappings.split(';')) {
      let column = 0;
      const out = [];
      for (const s of decodeSegments(text)) {
        column += s[0];
        if (s.length >= 4) {
          source += s[1];
          line += s[2];
          out.push([column, source, line]);
        }
      }
      lines.push(out);
    }
    const root = resolve(dirname(mapPath), raw.sourceRoot ?? '');
    result = { lines, sources: raw.sources.map((s) => resolve(root, s)) };
  }
  maps.set(path, result);
  return result;
}

/** `src/x.ts:line` for a position in a built file (0-based line and column, as in profiles). */
function original(url, line, column) {
  if (!url.startsWith('file://')) return undefined;
  const path = fileURLToPath(url);
  const map = mapOf(path);
  if (!map) return undefined;
  const segments = map.lines[line];
  if (!segments || segments.length === 0) return undefined;
  let best = segments[0];
  for (const s of segments) if (s[0] <= column) best = s;
  let shown = relative(repo, map.sources[best[1]]);
  // A package built elsewhere (TELLER_DIST): show the path from its src/ on.
  if (shown.startsWith('..') && shown.includes('/src/')) shown = shown.slice(shown.lastIndexOf('/src/') + 1);
  return `${shown}:${best[2] + 1}`;
}

/** A readable place for a call frame: the original source when mapped, else the file and line. */
function place(frame) {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return '(native)';
  const mapped = original(url, lineNumber, columnNumber);
  if (mapped) return mapped;
  const shown = url.startsWith('file://') ? relative(repo, fileURLToPath(url)) : url;
  return `${shown}:${lineNumber + 1}`;
}

// ---- self and inclusive time ----
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const idleNames = new Set(['(idle)', '(program)']);
let total = 0;
let idle = 0;
for (const [id, t] of self) {
  total += t;
  if (idleNames.has(nodes.get(id).callFrame.functionName)) idle += t;
}
const busy = total - idle;

const key = (frame) => `${frame.functionName || '(anonymous)'} ${place(frame)}`;
const selfBy = new Map();
const inclusiveBy = new Map();
for (const [id, t] of self) {
  const frame = nodes.get(id).callFrame;
  if (idleNames.has(frame.functionName)) continue;
  selfBy.set(key(frame), (selfBy.get(key(frame)) ?? 0) + t);
  // Inclusive: once per distinct function on the stack (recursion counted once).
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const k = key(nodes.get(at).callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusiveBy.set(k, (inclusiveBy.get(k) ?? 0) + t);
  }
}

const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
const ms = (t) =>
  requests ? `${(t / requests).toFixed(2).padStart(7)} us/req` : `${(t / 1000).toFixed(0).padStart(6)} ms`;
console.log(
  `${file}: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)}%)${requests ? `, ${(busy / requests).toFixed(1)} us/req busy over ${requests} requests` : ''}; shares are of busy time`,
);
console.log(`\nself time, top ${top}:`);
for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(t)} ${ms(t)}  ${k}`);
console.log(`\nTeller functions by inclusive time (src/ and dist/), top ${top}:`);
for (const [k, t] of [...inclusiveBy]
  .filter(([k]) => / src\//.test(k) || k.includes('dist/'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`${pct(t)} ${ms(t)}  ${k}`);
