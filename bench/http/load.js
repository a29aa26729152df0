/**
 * The load generator, run by bench/http.js as a child process pinned to the other core:
 * `node bench/http/load.js '<json>'` with `{ url, connections, duration?, amount?, cookies?, timeoutSec, requestTimeoutSec? }`.
 * `cookies`: one Cookie header per connection (connection i gets cookies[i % length]); none means first visits.
 * `amount` fixes the number of requests (every response is awaited, so counts are exact); otherwise the
 * run lasts `duration` seconds. Prints one JSON line with the autocannon figures.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

const config = JSON.parse(process.argv[2]);
const cookies = config.cookies ?? [];
let next = 0;

const options = {
  url: config.url,
  connections: config.connections,
  pipelining: 1,
  timeout: config.requestTimeoutSec ?? 10,
  setupClient(client) {
    if (cookies.length > 0) client.setHeaders({ cookie: cookies[next++ % cookies.length] });
  },
};
if (config.amount !== undefined) options.amount = config.amount;
else options.duration = config.duration;

// autocannon's own histogram keeps whole milliseconds; keep every 2xx latency (float ms) for exact percentiles.
let latencies = new Float64Array(1 << 16);
let samples = 0;
function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const cpuStart = process.cpuUsage();
const wallStart = performance.now();
const instance = autocannon(options, (error, result) => {
  clearTimeout(guard);
  const cpu = process.cpuUsage(cpuStart);
  // autocannon's own `duration` moves in whole-second ticks, and an amount-based run ends only at the next
  // tick (up to 1 s idle): the rate is timed here, from the start to the last response.
  const seconds = ((lastResponseAt ?? performance.now()) - (startedAt ?? wallStart)) / 1000;
  const busy = (cpu.user + cpu.system) / 1e6 / ((performance.now() - wallStart) / 1000);
  if (error) {
    console.error(error);
    process.exit(1);
  }
  const statusCounts = result.statusCodeStats ?? {};
  const sorted = latencies.subarray(0, samples).sort();
  process.stdout.write(
    `${JSON.stringify({
      requests: result.requests.total,
      durationSec: seconds,
      rate: result.requests.total / seconds,
      averagePerSecond: result.requests.average,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
      autocannonP99: result.latency.p99,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCounts,
      stoppedByGuard: guardFired,
      busy,
    })}\n`,
  );
  process.exit(0);
});
let startedAt;
let lastResponseAt;
instance.on('start', () => {
  startedAt = performance.now();
});
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  lastResponseAt = performance.now();
  if (statusCode < 200 || statusCode > 299) return;
  if (samples === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[samples++] = responseTime;
});
// A hard bound: an amount-based run that is too slow is stopped (and flagged) rather than left running.
let guardFired = false;
const guard = setTimeout(() => {
  guardFired = true;
  instance.stop();
}, config.timeoutSec * 1000);
