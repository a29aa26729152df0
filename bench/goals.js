/**
 * The ratios issue 12 sets goals for, as `npm run bench` computes them (Teller/peer, above 1 means Teller is
 * better; for CPU per request: the peer's CPU over Teller's). bench/run.js prints each row's goal beside its
 * ratio; bench/check.js (`npm run bench:check`) guards the same rows against bench/baseline.json.
 */

/** `ceiling` CPU per request over Teller's: at most 1.5x the ceiling's CPU is a ratio of at least 1/1.5. */
const CEILING_GOAL = 1 / 1.5;

export const GOALS = [
  ...['own sessions', 'first visits', 'one shared session'].map((mode) => ({
    suite: 'http',
    case: `Teller+memory, 50 conns, ${mode}: server CPU/request`,
    peerName: 'node:http (ceiling)',
    goal: CEILING_GOAL,
    says: "at most 1.5x the node:http hello world's CPU per request",
  })),
  {
    suite: 'cookie',
    case: 'parse Set-Cookie: 51 real lines (per line)',
    peerName: 'cookie',
    goal: 1,
    says: "at least as fast as cookie's parseSetCookie",
  },
  {
    suite: 'jar',
    case: 'store 1,000 cookies across 100 domains (cookies/s)',
    peerName: 'tough-cookie',
    goal: 3,
    says: 'at least 3x tough-cookie',
  },
];

/** The goal of a bench row (by suite, case and peer), or undefined. */
export function goalOf(row) {
  return GOALS.find((g) => g.suite === row.suite && g.case === row.case && g.peerName === row.peerName);
}

/** A row's key in bench/baseline.json. */
export const keyOf = (row) => `${row.suite} | ${row.case} | ${row.peerName}`;
