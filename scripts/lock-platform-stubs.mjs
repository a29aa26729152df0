/**
 * `npm run lock:stubs`: the registry this project installs from serves only the platform binaries of
 * the machines it runs on (linux x64 and arm64, glibc), so `npm install` leaves the other platforms'
 * optional binaries (biome, rollup) out of package-lock.json, and `npm ci` then refuses the lock as out
 * of sync. This adds an entry for each missing optional platform package, with the os/cpu/libc its
 * name gives, so `npm ci` sees them, finds they do not fit this platform, and skips them. Run it after
 * every `npm install` that changes the lock.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const OS = [
  'android',
  'darwin',
  'freebsd',
  'linux',
  'openbsd',
  'openharmony',
  'win32',
  'netbsd',
  'sunos',
  'aix',
];
const CPU = ['arm64', 'arm', 'x64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el'];

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path === '' ? '' : `${path}/`}node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p));
    if (os === undefined || cpu === undefined) {
      console.error(`lock:stubs: cannot tell the platform of ${name}; left out`);
      continue;
    }
    const stub = {
      version,
      cpu: [cpu],
      dev: entry.dev === true ? true : undefined,
      optional: true,
      os: [os],
    };
    if (os === 'linux') stub.libc = [parts.some((p) => p.startsWith('musl')) ? 'musl' : 'glibc'];
    lock.packages[`node_modules/${name}`] = JSON.parse(JSON.stringify(stub));
    added++;
  }
}
const sorted = {};
for (const key of Object.keys(lock.packages).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
  sorted[key] = lock.packages[key];
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock:stubs: added ${added} platform entries`);
