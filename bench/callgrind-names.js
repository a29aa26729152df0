/**
 * Instructions per request by function, JavaScript functions named, from the callgrind files that
 * bench/http-instructions.js keeps (BENCH_CALLGRIND_OUT=<dir>, one `<kind>-<mode>-<n>.out` per run):
 *
 *   node bench/callgrind-names.js <dir> <kind-mode> [--n=6000] [--inclusive] [--vs=<kind-mode>]
 *     [--callers=<substr>] [--callees=<substr>] [--top=60] [--grep=<regex>] [--min=0.5] [--perf-dir=/tmp]
 *
 * e.g. `node bench/callgrind-names.js /tmp/cg teller-memory-own --vs=bare-hello`. Each function's count in the
 * N run is taken from its count in the 3N run and divided by 2N, so start-up and most warm-up cancel out (as in
 * bench/http-instructions.js, but over 2N rather than the requests the server counted). Callgrind shows V8's
 * generated code as bare addresses (`???:0x000000000d0d2840`); run the server with
 * BENCH_NODE_FLAGS="--perf-basic-prof --no-compact-code-space --logfile=/dev/null" and V8 writes /tmp/perf-<pid>.map (`<hexaddr>
 * <hexsize> <name>` a line; pid: the `pid:` line of the callgrind file), and each address is named by the map's
 * entry that holds it (`JS:*setNow file:///.../memory.js:299:20`: `*` optimized, `^` baseline, `~`
 * interpreted; also `RegExp:`, `Builtin:`). An address no entry holds counts as `(JIT code not in perf map)`.
 * The maps must be from the same runs: a pid reused later overwrites its map.
 *
 * Prints a first line per kind (total, GC: Heap::CollectGarbage inclusive; compilation: Runtime_CompileOptimized*,
 * Runtime_CompileLazy, the baseline batch compiler and the optimizing dispatcher's task, inclusive, roots that
 * do not hold one another, so no instruction is counted twice; the rest; the JIT code's own instructions), then
 * the functions by instructions per request, largest first:
 *   default      exclusive (the function's own instructions), recursion levels (callgrind's `'2`) summed;
 *   --inclusive  with its callees (a recursion level inside its outer level left out, as it is counted there);
 *   --vs=<kind-mode>  the difference <kind-mode> minus --vs, largest change first, each side's figure beside it;
 *   --callers=<substr>  for each function whose name holds substr: who calls it and how much each call costs
 *                (inclusive), `function <- caller`; --callees=<substr> likewise what it calls, `function -> callee`.
 * --grep keeps names matching a regex; --top the number of rows; --min leaves out rows below it (in absolute
 * value). The numbers come from `callgrind_annotate` (valgrind's, run here on the files: nothing is measured).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A perf map's text as entries sorted by start (then size, then name): `{ start, size, name }`. */
export function parsePerfMap(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
    if (m) rows.push({ start: Number.parseInt(m[1], 16), size: Number.parseInt(m[2], 16), name: m[3] });
  }
  return rows.sort((a, b) =>
    a.start !== b.start
      ? a.start - b.start
      : a.size !== b.size
        ? a.size - b.size
        : a.name < b.name
          ? -1
          : a.name > b.name
            ? 1
            : 0,
  );
}

/** The name of the perf map entry holding `address` (the last one starting at or below it), or undefined. */
export function lookup(map, address) {
  let lo = 0;
  let hi = map.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid].start <= address) lo = mid + 1;
    else hi = mid;
  }
  const entry = map[lo - 1];
  return entry && address < entry.start + entry.size ? entry.name : undefined;
}

export const UNMAPPED = '(JIT code not in perf map)';

/**
 * A callgrind_annotate function column (`???:0x000000000d043cc0'2 (623x) [???]`,
 * `./malloc/malloc.c:_int_free [/usr/lib/.../libc.so.6]`) as `{ name, level }`: the object file in brackets
 * and a call count dropped, `???:` dropped, the recursion level (`'2`) apart, a JIT address named from `map`
 * (`undefined`: no map, the address kept) and marked `jit`.
 */
export function nameOf(column, map) {
  let s = column
    .trim()
    .replace(/\s*\[[^\]]*\]$/, '')
    .replace(/\s+\([\d,]+x\)$/, '');
  let level = 1;
  const rec = /'(\d+)$/.exec(s);
  if (rec) {
    level = Number(rec[1]);
    s = s.slice(0, rec.index);
  }
  const jit = /^\?\?\?:0x([0-9a-fA-F]+)$/.exec(s);
  if (jit) {
    if (!map) return { name: `0x${jit[1]}`, level, jit: true };
    return { name: lookup(map, Number.parseInt(jit[1], 16)) ?? UNMAPPED, level, jit: true };
  }
  return { name: s.replace(/^\?\?\?:/, ''), level, jit: false };
}

const COUNT = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?/;
const number = (text) => Number(text.replaceAll(',', ''));

/**
 * callgrind_annotate's output (with or without --tree) as `{ total, functions }`: PROGRAM TOTALS and, per
 * function line, `{ count, column, callers: [{ count, column }], callees: [...] }` (the `<` lines above a
 * `*` line, the `>` lines below it). Auto-annotated source (run it with --auto=no) and the rest are ignored.
 */
export function parseAnnotate(text) {
  let total = 0;
  const functions = [];
  let inList = false;
  let pending = [];
  let current;
  for (const line of text.split('\n')) {
    if (!inList) {
      const m = /^\s*([\d,]+)\s+.*PROGRAM TOTALS/.exec(line);
      if (m) total = number(m[1]);
      if (/\sfile:function\s*$/.test(line)) inList = true;
      continue;
    }
    if (line.startsWith('-- ') || line.startsWith('----')) {
      if (functions.length > 0 || pending.length > 0) break;
      continue;
    }
    const m = COUNT.exec(line);
    if (!m) {
      if (line.trim() === '') {
        pending = [];
        current = undefined;
      }
      continue;
    }
    const count = number(m[1]);
    const rest = line.slice(m[0].length);
    const mark = /^([<>*])\s+(.*)$/.exec(rest);
    if (!mark) {
      functions.push({ count, column: rest, callers: [], callees: [] });
      continue;
    }
    if (mark[1] === '<') pending.push({ count, column: mark[2] });
    else if (mark[1] === '*') {
      current = { count, column: mark[2], callers: pending, callees: [] };
      functions.push(current);
      pending = [];
    } else current?.callees.push({ count, column: mark[2] });
  }
  return { total, functions };
}

const GC = ['v8::internal::Heap::CollectGarbage('];
const COMPILE = [
  'v8::internal::Runtime_CompileOptimized',
  'v8::internal::Runtime_CompileLazy(',
  'v8::internal::baseline::BaselineBatchCompiler::EnqueueFunction(',
  'v8::internal::OptimizingCompileDispatcher::CompileTask::RunInternal(',
];

/**
 * Per-function counts of one parsed file (`parseAnnotate`) under `view`: `exclusive` (levels summed),
 * `inclusive` (outer level only), `callers`/`callees` of functions whose name holds `target` (keys
 * `function <- caller`, `function -> callee`). Also the categories of the first line when inclusive.
 */
export function tally(parsed, map, view, target) {
  const counts = new Map();
  const add = (key, n) => counts.set(key, (counts.get(key) ?? 0) + n);
  const summary = { total: parsed.total, gc: 0, compile: 0, jit: 0 };
  for (const f of parsed.functions) {
    const { name, level, jit } = nameOf(f.column, map);
    if (view === 'exclusive') {
      add(name, f.count);
      if (jit) summary.jit += f.count;
    } else if (view === 'inclusive') {
      if (level !== 1) continue;
      add(name, f.count);
      if (GC.some((p) => name.startsWith(p))) summary.gc += f.count;
      if (COMPILE.some((p) => name.startsWith(p))) summary.compile += f.count;
    } else if (name.includes(target)) {
      const arrow = view === 'callers' ? '<-' : '->';
      for (const c of view === 'callers' ? f.callers : f.callees) {
        const other = nameOf(c.column, map);
        add(`${name} ${arrow} ${other.name}${other.level > 1 ? ` '${other.level}` : ''}`, c.count);
      }
    }
  }
  return { counts, summary };
}

/** `(large - small) / (nLarge - nSmall)` for each key of either map. */
export function perRequest(small, large, requests) {
  const out = new Map();
  for (const key of new Set([...small.keys(), ...large.keys()]))
    out.set(key, ((large.get(key) ?? 0) - (small.get(key) ?? 0)) / requests);
  return out;
}

/** The `pid:` of a callgrind out file's header. */
function pidOf(file) {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('latin1');
    return /^pid:\s*(\d+)/m.exec(text)?.[1];
  } finally {
    closeSync(fd);
  }
}

const maps = new Map();
function perfMapOf(file, perfDir) {
  const pid = pidOf(file);
  const path = join(perfDir, `perf-${pid}.map`);
  if (!maps.has(path)) {
    if (pid === undefined || !existsSync(path)) {
      console.error(`(no ${path} for ${file}: JIT code left as addresses)`);
      maps.set(path, undefined);
    } else maps.set(path, parsePerfMap(readFileSync(path, 'utf8')));
  }
  return maps.get(path);
}

function annotate(file, options) {
  return parseAnnotate(
    execFileSync('callgrind_annotate', [...options, '--threshold=100', '--auto=no', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    }),
  );
}

const ANNOTATE = {
  exclusive: ['--inclusive=no'],
  inclusive: ['--inclusive=yes'],
  callers: ['--inclusive=yes', '--tree=caller'],
  callees: ['--inclusive=yes', '--tree=calling'],
};

/** One kind's per-request counts under `view`, and its first-line figures. */
function measure(dir, kind, n, view, target, perfDir) {
  const files = [n, 3 * n].map((k) => resolve(dir, `${kind}-${k}.out`));
  for (const file of files)
    if (!existsSync(file)) {
      console.error(`no ${file} (BENCH_CALLGRIND_OUT of bench/http-instructions.js, --requests=${n})`);
      process.exit(2);
    }
  const runs = files.map((file) => {
    const map = perfMapOf(file, perfDir);
    const main = tally(annotate(file, ANNOTATE[view]), map, view, target);
    const incl = view === 'inclusive' ? main : tally(annotate(file, ANNOTATE.inclusive), map, 'inclusive');
    const excl = view === 'exclusive' ? main : undefined;
    return {
      counts: main.counts,
      summary: { ...incl.summary, jit: excl ? excl.summary.jit : Number.NaN },
    };
  });
  const requests = 2 * n;
  const counts = perRequest(runs[0].counts, runs[1].counts, requests);
  const summary = {};
  for (const key of Object.keys(runs[0].summary))
    summary[key] = (runs[1].summary[key] - runs[0].summary[key]) / requests;
  return { counts, summary };
}

const fmt = (v) => (Math.round(v) || 0).toLocaleString('en').padStart(8);

function summaryLine(kind, s) {
  const jit = Number.isNaN(s.jit) ? '' : `  (JIT code's own: ${fmt(s.jit).trim()})`;
  return `${kind}: total ${fmt(s.total).trim()}  GC ${fmt(s.gc).trim()}  compilation ${fmt(s.compile).trim()}  rest ${fmt(s.total - s.gc - s.compile).trim()} instructions/request${jit}`;
}

function main(argv) {
  const option = (name, fallback) => {
    const found = argv.find((a) => a.startsWith(`--${name}=`));
    return found === undefined ? fallback : found.slice(name.length + 3);
  };
  const [dir, kind] = argv.filter((a) => !a.startsWith('--'));
  if (!dir || !kind) {
    console.error('usage: node bench/callgrind-names.js <dir> <kind-mode> [--n=6000] [--inclusive] ...');
    process.exit(2);
  }
  const n = Number(option('n', '6000'));
  const top = Number(option('top', '60'));
  const min = Number(option('min', '0.5'));
  const grep = option('grep') === undefined ? undefined : new RegExp(option('grep'));
  const vs = option('vs');
  const perfDir = option('perf-dir', '/tmp');
  const callers = option('callers');
  const callees = option('callees');
  const view =
    callers !== undefined
      ? 'callers'
      : callees !== undefined
        ? 'callees'
        : argv.includes('--inclusive')
          ? 'inclusive'
          : 'exclusive';
  const target = callers ?? callees;

  const mine = measure(dir, kind, n, view, target, perfDir);
  const keep = ([name, v]) => Math.abs(v) >= min && (!grep || grep.test(name));
  if (vs === undefined) {
    console.log(summaryLine(kind, mine.summary));
    const rows = [...mine.counts].filter(keep).sort((a, b) => b[1] - a[1]);
    for (const [name, v] of rows.slice(0, top)) console.log(`${fmt(v)} ${name}`);
    return;
  }
  const other = measure(dir, vs, n, view, target, perfDir);
  console.log(summaryLine(vs, other.summary));
  console.log(summaryLine(kind, mine.summary));
  const diff = new Map();
  for (const key of new Set([...mine.counts.keys(), ...other.counts.keys()]))
    diff.set(key, (mine.counts.get(key) ?? 0) - (other.counts.get(key) ?? 0));
  // Exclusive counts add up to the total; inclusive ones and calls do not.
  const total = [...diff.values()].reduce((a, b) => a + b, 0);
  const sum = view === 'exclusive' ? `: ${fmt(total).trim()}` : '';
  console.log(`${kind} - ${vs}${sum} (columns: difference, ${vs}, ${kind})`);
  const rows = [...diff].filter(keep).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  for (const [name, v] of rows.slice(0, top))
    console.log(`${fmt(v)} ${fmt(other.counts.get(name) ?? 0)} ${fmt(mine.counts.get(name) ?? 0)} ${name}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main(process.argv.slice(2));
