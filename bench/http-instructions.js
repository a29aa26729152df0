/**
 * Instructions and system calls per request of the http bench's servers (bench/http/server.js), counted
 * rather than timed, so that the figures do not depend on what else runs on the machine:
 *
 *   node bench/http-instructions.js [kind/mode ...] [--requests=6000] [--tool=callgrind|strace]
 *
 * `callgrind` (default): the server runs under valgrind's callgrind (user-space instructions, system calls not
 * counted); `strace`: under `strace -f -c` (system calls by name). For each case the server serves N and 3N
 * requests of the mode (own, shared, first: as in bench/http.js, 50 connections) in two runs, and the
 * difference divided by the difference in requests the server received is printed, so start-up and warm-up cancel out.
 * Not all compilation does: at 1,000-2,000 requests TurboFan is still optimizing (some 40-75 functions between
 * request 1,000 and 3,000, about 5 after 7,000: --trace-opt), two thirds of the count, so the default is 6,000
 * (issue 12's measurements). Even then a major GC that falls in one window moves a total by 2-15k instructions per
 * request: repeat a case in doubt, or run valgrind by hand with a kept --callgrind-out-file and leave out the
 * compiler's and the collector's functions (callgrind_annotate). The load generator
 * (bench/http/load.js, autocannon) runs outside the tool. Default cases: bare/hello, teller-memory/own,
 * teller-sqlite/own, teller-sqlite/shared, teller-sqlite/first. Servers are killed at the end, even on failure.
 * Env: TELLER_DIST (the built package, default ../dist from here); BENCH_CALLGRIND_OUT=<dir> keeps callgrind's
 * per-function counts of each run there; BENCH_NODE_FLAGS (space-separated) adds node flags to the server, e.g.
 * `--perf-basic-prof --no-compact-code-space --logfile=/dev/null` (the last keeps V8 from leaving an
 * isolate-*.log in the working directory): /tmp/perf-<pid>.map then names the JIT code callgrind shows as
 * bare addresses (callgrind's pid is the server's). bench/callgrind-names.js reads such a directory: per
 * request, by function with the JIT code named from the perf maps, exclusive or inclusive, a case against another
 * (e.g. teller-memory-own --vs=bare-hello), a function's callers or callees, and GC and compilation apart.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.TELLER_DIST ?? resolve(here, '../dist'));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
};
const requests = Number(option('requests', '6000'));
const tool = option('tool', 'callgrind');
const cases = args.filter((a) => !a.startsWith('--'));
if (cases.length === 0)
  cases.push(
    'bare/hello',
    'teller-memory/own',
    'teller-sqlite/own',
    'teller-sqlite/shared',
    'teller-sqlite/first',
  );
const CONNECTIONS = 50;

const children = new Set();
const killAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
};
process.once('exit', killAll);
// Stopped (Ctrl-C, kill): the 'exit' handler above still stops the children.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(1));

function get(port, path, cookie) {
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: cookie ? { cookie } : {} },
      (res) => {
        res.resume();
        res.on('end', () =>
          done({ status: res.statusCode, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] }),
        );
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

function runLoad(config) {
  const child = spawn(process.execPath, [resolve(here, 'http/load.js'), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((done, fail) => {
    child.once('exit', (code) => {
      children.delete(child);
      if (code !== 0) return fail(new Error(`load generator exited with ${code}`));
      done(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/**
 * Where callgrind writes its per-function counts: nowhere, or with BENCH_CALLGRIND_OUT=<dir> a file per run
 * (`<kind>-<mode>-<n>.out`) for callgrind_annotate; the difference of a function's counts between the N and 3N
 * runs is its cost over 2N requests.
 */
function keptOut(kind, mode, n) {
  const keep = process.env.BENCH_CALLGRIND_OUT;
  return keep ? resolve(keep, `${kind}-${mode}-${n}.out`) : '/dev/null';
}

/** One server run serving `n` requests of the mode; resolves with the tool's count(s). */
async function count(kind, mode, n) {
  const dir = mkdtempSync(join(tmpdir(), 'teller-http-count-'));
  const out = join(dir, 'out.txt');
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const server = [process.execPath, '--single-threaded', ...flags, resolve(here, 'http/server.js'), kind];
  const [command, toolArgs] =
    tool === 'strace'
      ? ['strace', ['-f', '-c', '-o', out, ...server]]
      : [
          'valgrind',
          [
            '--tool=callgrind',
            `--callgrind-out-file=${keptOut(kind, mode, n)}`,
            `--log-file=${out}`,
            ...server,
          ],
        ];
  const child = spawn(command, toolArgs, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TELLER_DIST: dist, NODE_ENV: 'production', BENCH_SLOW: '1' },
  });
  children.add(child);
  const guard = setTimeout(() => child.kill('SIGKILL'), 900_000);
  try {
    const port = await new Promise((done, fail) => {
      child.once('exit', (code) => fail(new Error(`${kind}: server exited with ${code}`)));
      child.on('message', (message) => {
        if (message?.type === 'ready') done(message.port);
      });
    });
    let cookies;
    if (mode === 'own' || mode === 'shared') {
      cookies = [];
      for (let i = 0; i < (mode === 'own' ? CONNECTIONS : 1); i++)
        cookies.push((await get(port, '/')).cookie);
    }
    const load = await runLoad({
      url: `http://127.0.0.1:${port}/`,
      connections: CONNECTIONS,
      amount: n,
      cookies,
      timeoutSec: 900,
      // The server is many times slower under the tool: a request given up on would be sent again.
      requestTimeoutSec: 120,
    });
    // Under the tool the server is many times slower: say when that turned answers into errors.
    if (load.non2xx || load.errors)
      console.log(`  (${kind}/${mode}, ${n} requests: non-2xx ${load.non2xx}, errors ${load.errors})`);
    // The requests the server received (a request the load generator gave up on may still have been served).
    const served = await new Promise((done) => {
      child.on('message', (message) => {
        if (message?.type === 'mark') done(message.requests);
      });
      child.send({ type: 'mark', id: 1 });
    });
    const exited = new Promise((done) => child.once('exit', done));
    child.send({ type: 'exit' });
    await exited;
    const text = readFileSync(out, 'utf8');
    if (tool === 'strace') {
      const calls = {};
      for (const line of text.split('\n')) {
        const parts = line.trim().split(/\s+/);
        if (parts.length >= 5 && /^[\d.]+$/.test(parts[0]) && parts.at(-1) !== 'total')
          calls[parts.at(-1)] = Number(parts[3]);
      }
      return { served, counts: calls };
    }
    return { served, counts: { Ir: Number(/Collected : (\d+)/.exec(text)[1]) } };
  } finally {
    clearTimeout(guard);
    if (child.exitCode === null) child.kill('SIGKILL');
    children.delete(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  for (const name of cases) {
    const [kind, mode] = name.split('/');
    const small = await count(kind, mode, requests);
    const large = await count(kind, mode, 3 * requests);
    const per = {};
    const served = large.served - small.served;
    for (const key of new Set([...Object.keys(small.counts), ...Object.keys(large.counts)])) {
      const value = ((large.counts[key] ?? 0) - (small.counts[key] ?? 0)) / served;
      if (Math.abs(value) >= 0.01) per[key] = value;
    }
    const total = Object.values(per).reduce((a, b) => a + b, 0);
    const top = Object.entries(per)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${tool === 'strace' ? v.toFixed(2) : Math.round(v).toLocaleString('en')}`);
    console.log(
      `${name.padEnd(22)} ${tool === 'strace' ? `${total.toFixed(2)} system calls/request: ${top.join(', ')}` : `${Math.round(total).toLocaleString('en')} instructions/request`}`,
    );
  }
} finally {
  killAll();
}
