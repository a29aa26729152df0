import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSessionManager, type Session } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

type Probe = (s: Session<{ n: number }>) => unknown;

// Every way of learning something about the session must count as using it (adapters add Vary: Cookie).
const probes: Array<[string, Probe]> = [
  ['data()', (s) => s.data()],
  ['toJSON()', (s) => s.toJSON()],
  ['JSON.stringify', (s) => JSON.stringify(s)],
  ['util.inspect', (s) => inspect(s)],
  ['isNew', (s) => s.isNew],
  ['persistent', (s) => s.persistent],
  ['id', (s) => s.id],
  ['handle', (s) => s.handle],
  ['userId', (s) => s.userId],
  ['get', (s) => s.get('n')],
  ['has', (s) => s.has('n')],
  ['flash read', (s) => s.flash('info')],
  ['csrfToken', (s) => s.csrfToken],
  ['verifyCsrfToken', (s) => s.verifyCsrfToken('x')],
];

describe('session.accessed', () => {
  for (const [name, probe] of probes) {
    it(`is set by ${name}, on an existing and on a fresh session`, async () => {
      const store = new TestStore();
      const manager = createSessionManager<{ n: number }>({ store });
      const browser = new Browser();
      await visit(manager, browser, (s) => s.set('n', 1));
      for (const header of [browser.header(), undefined]) {
        const session = await manager.load(header, { now: T0 });
        expect(session.accessed).toBe(false);
        probe(session);
        expect(session.accessed).toBe(true);
        await manager.commit(session);
      }
    });
  }

  it('is not set by reading accessed, or by release()', async () => {
    const manager = createSessionManager({ store: new TestStore() });
    const session = await manager.load(undefined, { now: T0 });
    session.release();
    expect(session.accessed).toBe(false);
    expect(session.accessed).toBe(false);
    await manager.commit(session);
  });
});
