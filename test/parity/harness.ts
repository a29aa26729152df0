/**
 * One differential run (issue 18): `count` seeded scenarios through Chromium against the loopback server, each
 * trace replayed through the jar of every profile as soon as it is recorded. Stops early at `deadline`.
 */
import { ParityBrowser, type Trace } from './browser.js';
import { compareTrace, emptyTally, type Profile, type Tally } from './compare.js';
import { generateScenario } from './generator.js';
import { ParityServer } from './server.js';
import { shrinkExample } from './shrink.js';

export interface RunOptions {
  scenarios: number;
  seed: number;
  profiles: Profile[];
  /** Epoch ms after which no new scenario starts. */
  deadline: number;
  /** Run only these scenario ids (to look at one closely). */
  only?: number[];
  /** Allow the total-limit scenario (3,750 cookies). */
  totalLimit?: boolean;
  /** Called with each trace (checks of the harness itself). */
  onTrace?: (trace: Trace) => void;
  /** Progress lines. */
  log?: (line: string) => void;
  /**
   * After the run, shrink each class's example with at most this many Chromium re-runs per class
   * (test/parity/shrink.ts); 0 or absent: no shrinking (the CI short run).
   */
  shrinkRuns?: number;
  /** Epoch ms after which no shrinking run starts. @default deadline + 15 minutes */
  shrinkDeadline?: number;
}

export interface RunResult {
  tallies: Map<Profile, Tally>;
  /** Scenarios run (fewer than asked when the deadline came first). */
  ran: number;
  /** Steps that failed in Chromium (a navigation or fetch that threw). */
  errors: string[];
  stray: number;
  dropped: number;
  launches: number;
}

export async function runParity(options: RunOptions): Promise<RunResult> {
  const server = new ParityServer();
  await server.start();
  const browser = new ParityBrowser(server);
  const tallies = new Map<Profile, Tally>(options.profiles.map((p) => [p, emptyTally()]));
  const errors: string[] = [];
  const now = Date.now();
  let ran = 0;
  try {
    await browser.launch();
    const ids = options.only ?? Array.from({ length: options.scenarios }, (_, i) => i);
    for (const id of ids) {
      if (Date.now() > options.deadline) {
        options.log?.(`deadline reached after ${ran} scenarios`);
        break;
      }
      const scenario = generateScenario(options.seed, id, { now, totalLimit: options.totalLimit });
      const trace = await browser.run(scenario);
      ran++;
      for (const e of trace.errors) errors.push(`scenario ${id}: ${e}`);
      options.onTrace?.(trace);
      for (const [profile, tally] of tallies) compareTrace(trace, profile, tally);
      if (options.log && ran % 100 === 0) options.log(`${ran} scenarios`);
    }
    if ((options.shrinkRuns ?? 0) > 0) {
      const until = options.shrinkDeadline ?? options.deadline + 15 * 60_000;
      let runs = 0;
      for (const [profile, tally] of tallies) {
        for (const [cls, entry] of tally.differences) {
          const from = entry.example;
          const shrunk = await shrinkExample(
            browser,
            profile,
            cls,
            from,
            options.shrinkRuns,
            () => Date.now() > until,
          );
          runs += shrunk.runs;
          if (shrunk.example !== from) entry.example = { ...shrunk.example, shrunkFrom: from.size };
        }
      }
      options.log?.(`examples shrunk with ${runs} Chromium re-runs`);
    }
  } finally {
    await browser.dispose();
    await server.stop();
  }
  return { tallies, ran, errors, stray: server.stray, dropped: server.dropped, launches: browser.launches };
}
