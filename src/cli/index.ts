#!/usr/bin/env node
/**
 * The `teller` command: sessions in a store (`sessions list|show|revoke|purge`), cookies explained
 * (`cookie parse`), a fetch with a curl cookie jar (`fetch`), and a new secret (`secret`). See docs/cli.md.
 *
 * Exit codes: 0 done, 1 an operational failure, 2 a usage error. Errors are one line on stderr, never a stack.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { MIN_SECRET_BYTES } from '../cookie/sign.js';
import { cookieCommand } from './cookie.js';
import { fetchCommand } from './fetch.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, invalid, messageOf } from './output.js';
import { sessionsCommand } from './sessions.js';

// A reader that stopped reading (`teller sessions list | head`) ends the command quietly, as with any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('teller')
  .description('Teller: sessions in a store, cookies explained, fetch with a cookie jar')
  .version(version)
  // Set before the commands are added, so that they inherit it: commander's errors become exceptions here.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');

sessionsCommand(program);
cookieCommand(program);
fetchCommand(program);

program
  .command('secret')
  .description('print a new random secret (base64url) for the `secret` or `seal.secrets` option')
  .option(
    '--bytes <n>',
    `random bytes in the secret (at least ${MIN_SECRET_BYTES})`,
    (text: string) => {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < MIN_SECRET_BYTES || n > 1024)
        throw invalid(`--bytes must be a whole number from ${MIN_SECRET_BYTES} to 1024`);
      return n;
    },
    32,
  )
  .action((options: { bytes: number }) => {
    process.stdout.write(`${randomBytes(options.bytes).toString('base64url')}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander printed its message (or the help) already: help and --version exit 0, anything else is usage.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.stderr.write(`teller: ${messageOf(error).replace(/^\[teller\] /, '')}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  }
}
