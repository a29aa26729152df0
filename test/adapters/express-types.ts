/**
 * Type-level test, compiled by `npm run typecheck` (never run): Teller's `req.session` augmentation and
 * `@types/express-session`'s, both in one program, do not clash. In Express handlers `req.session` has
 * Teller's `Session` API (merged into express-serve-static-core's `Request`), and, express-session's types
 * being in this program, express-session's too; express-session's own types are intact (its middleware,
 * `SessionData` merging, the global `Express.Request`'s `sessionID` and `session`).
 */
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { expressSessions } from '../../src/adapters/express.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';

declare const manager: SessionManager;

declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

const app = express();
app.use(expressSessions(manager));
app.get('/', (req, res) => {
  const own: Session = req.session;
  own.set('n', 1);
  const user: string | undefined = req.session.userId;
  // With @types/express-session in the program, its session type joins Teller's: express-session code
  // (the real middleware's, or the drop-in's) compiles beside Teller's.
  const maxAge: number | undefined = req.session.cookie.maxAge;
  req.session.regenerate((error: unknown) => void error);
  void maxAge;
  res.json({ user, n: own.get('n') });
});

// A router's handlers see the same request type.
const router = express.Router();
router.post('/login', (req, res) => {
  req.session.login('alice');
  res.redirect(303, '/');
});
app.use(router);

// express-session's own types still hold: its middleware, its data merging, the global Express.Request.
const legacy: RequestHandler = session({ secret: 'a secret of at least thirty-two characters' });
declare const plain: Express.Request;
const sid: string = plain.sessionID;
const views: number | undefined = plain.session.views;
plain.session.regenerate((error: unknown) => void error);

export { legacy, sid, views };
