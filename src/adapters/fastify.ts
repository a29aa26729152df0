/**
 * `teller/adapters/fastify`: sessions on Fastify 5, as a plugin (`fastify-plugin`, so its hooks and the
 * `request.session` decorator belong to the context that registers it: register it at the root for the whole
 * app, or inside an encapsulated plugin for that plugin's routes alone). `onRequest` loads the session from
 * the Cookie header; `onSend` commits it, so `Set-Cookie` (with `Vary: Cookie`, and `Cache-Control:
 * no-store` with any cookie) is set before the reply is sent, and a reply of 500 or more persists nothing.
 * HTTPS and the client's address are Fastify's `request.protocol` and `request.ip` (its `trustProxy`
 * option). A session error (a store that is down or slow: 503; a conflict: 409) is thrown to Fastify's error
 * handler as a {@link SessionHttpError}: `statusCode` set, `expose: false`, the reason phrase as its message.
 *
 * @example
 * await app.register(fastifySessions, { manager });
 * app.get('/', async (request) => ({ user: request.session.userId ?? null }));
 */

import { maxHeaderSize as nodeMaxHeaderSize } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { statusForError } from '../session/errors.js';
import type { CommitResult, RequestOptions } from '../session/manager.js';
import type { AnySession, Session } from '../session/session.js';
import type { AdapterManager, HeaderTarget, RequestContext } from './_shared.js';
import {
  addSessionHeaders,
  checkHeaderRoom,
  requestOptionsOf,
  SessionHttpError,
  safeReporter,
} from './_shared.js';

export type { RequestOptions } from '../session/manager.js';
export type { AdapterManager, RequestContext } from './_shared.js';
export { SessionHttpError } from './_shared.js';

/**
 * Merge `session` into this interface to type `request.session` (e.g. `Session<MyData>`):
 * `declare module 'teller/adapters/fastify' { interface FastifySessionTypes { session: Session<MyData> } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that an app can merge its session type in
export interface FastifySessionTypes {}

/** The type of `request.session`: the `session` merged into {@link FastifySessionTypes}, else `Session`. */
export type FastifySession = FastifySessionTypes extends { session: infer S } ? S : Session;

declare module 'fastify' {
  interface FastifyRequest {
    /** The Teller session of this request (`teller/adapters/fastify`, in the contexts that registered it). */
    session: FastifySession;
  }
}

export interface FastifySessionsOptions extends RequestOptions {
  /** The session manager (`createSessionManager`). */
  manager: AdapterManager<AnySession>;
  /** Told of every session error (load or commit), before Fastify's error handler answers it. @default console.error */
  onError?: (error: unknown) => void;
}

/** Sessions committed (or whose commit failed): the error answer that may follow passes through onSend as is. */
const done = new WeakSet<AnySession>();

/** A reply's headers as `addSessionHeaders` needs them (Fastify appends to `set-cookie`). */
class ReplyHeaders implements HeaderTarget {
  constructor(readonly reply: FastifyReply) {}
  get(name: string): string {
    const value = this.reply.getHeader(name);
    return value === undefined ? '' : String(value);
  }
  set(name: string, value: string): void {
    this.reply.header(name, value);
  }
  appendSetCookie(lines: string[]): void {
    this.reply.header('set-cookie', lines);
  }
}

const plugin: FastifyPluginAsync<FastifySessionsOptions> = async (fastify, options) => {
  const { manager } = options;
  if (typeof manager?.load !== 'function' || typeof manager.commit !== 'function')
    throw new TypeError(
      '[teller] [fastify] the `manager` option must be a session manager (createSessionManager)',
    );
  const onError = safeReporter(options.onError);
  const requestOptions = requestOptionsOf(options);
  // Sealed sessions' cookies must fit in what the server accepts (its own maxHeaderSize, else node's).
  const server = (fastify as FastifyInstance).server as { maxHeaderSize?: number } | undefined;
  checkHeaderRoom(manager, server?.maxHeaderSize ?? nodeMaxHeaderSize, 'fastify');
  const fail = (error: unknown): never => {
    onError(error);
    throw new SessionHttpError(statusForError(error), error);
  };

  (fastify as FastifyInstance).decorateRequest('session', null as unknown as FastifySession);

  fastify.addHook('onRequest', async (request, reply) => {
    let session: AnySession;
    try {
      session = await manager.load(request.headers.cookie, requestContext(request), requestOptions);
    } catch (error) {
      return fail(error);
    }
    request.session = session as FastifySession;
    // A client gone before the reply: end the session's lock now rather than at its timeout.
    reply.raw.once('close', () => {
      if (!done.has(session)) session.release();
    });
  });

  fastify.addHook('onSend', async (request, reply, payload) => {
    const session = request.session as AnySession | null;
    if (session === null || done.has(session)) return payload;
    done.add(session);
    let result: CommitResult = { setCookie: [] };
    try {
      result = await manager.commit(session, { status: reply.statusCode });
    } catch (error) {
      fail(error);
    }
    addSessionHeaders(new ReplyHeaders(reply), session, result.setCookie, result.clearSiteData);
    return payload;
  });
};

/** The plugin: `app.register(fastifySessions, { manager })`. */
export const fastifySessions = fp(plugin, { fastify: '5.x', name: 'teller' });
export default fastifySessions;

/** The request facts the manager needs, as Fastify sees them (its `trustProxy` option applies). */
export function requestContext(request: FastifyRequest): RequestContext {
  return {
    secure: request.protocol === 'https',
    host: request.host,
    userAgent: request.headers['user-agent'],
    ip: request.ip,
    route: `${request.method} ${request.url}`,
  };
}
