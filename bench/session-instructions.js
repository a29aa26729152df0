/**
 * Instructions per request of bench/session-cost.js, counted by valgrind's callgrind (user-space
 * instructions: they do not change with the machine's load, unlike CPU times; system calls are not counted):
 *
 *   node bench/session-instructions.js [kind/mode ...] [--requests=4000] [--connections=50]
 *
 * For each case, runs the workload under callgrind with N and 3N requests (two at a time) and prints
 * (Ir(3N) - Ir(N)) / 2N, so start-up, warm-up and compilation cancel out. Default cases: sqlite/own,
 * sqlite/shared, sqlite/first, memory/own. Each valgrind run is killed after 10 minutes.
 * Env: TELLER_DIST (the built package to measure, e.g. a copy of an older build), VALGRIND (its path).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
};
const requests = flag('requests', 4000);
const connections = flag('connections', 50);
const cases = args.filter((a) => !a.startsWith('--'));
if (cases.length === 0) cases.push('sqlite/own', 'sqlite/shared', 'sqlite/first', 'memory/own');

const children = new Set();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// Stopped (Ctrl-C, kill): the 'exit' handler above still stops the children.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(1));

/** Total instructions (Ir) of one run of the workload, and its own report line. */
function count(kind, mode, n) {
  const child = spawn(
    process.env.VALGRIND ?? 'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      resolve(here, 'session-cost.js'),
      kind,
      mode,
      String(n),
      String(connections),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  return new Promise((done, fail) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      const ir = /Collected : (\d+)/.exec(err);
      if (code !== 0 || ir === null)
        return fail(new Error(`${kind}/${mode} ${n}: exit ${code}\n${err.slice(-2000)}`));
      done({ ir: Number(ir[1]), report: out.trim().split('\n').pop() });
    });
  });
}

for (const name of cases) {
  const [kind, mode] = name.split('/');
  const [small, large] = await Promise.all([count(kind, mode, requests), count(kind, mode, 3 * requests)]);
  const perRequest = (large.ir - small.ir) / (2 * requests);
  console.log(
    `${name.padEnd(14)} ${Math.round(perRequest).toLocaleString('en').padStart(9)} instructions/request  (${large.report})`,
  );
}
