/**
 * The differential test's loopback server: HTTP and TLS on 127.0.0.1 (a self-signed certificate made at start
 * by `openssl req -x509`), reached by every generated host name through Chromium's `--host-resolver-rules`.
 *
 * It speaks HTTP/1.1 itself on `net`/`tls` sockets instead of `node:http`: node writes header strings as
 * UTF-8 (a line holding `Ã¤` goes out as 4 octets, not 2) and refuses controls, and the test needs the
 * Set-Cookie lines on the wire octet for octet, and the Cookie header as the octets Chromium sent.
 *
 * Every request names what it is with `?__t=<token>`: the server answers with the token's Set-Cookie lines
 * and records the Cookie header the request arrived with (and the time). A request without a known token
 * (a favicon, say) gets a 404 and is counted as stray.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';

/** What the server answers a token with. */
export interface Answer {
  /** Set-Cookie lines, header octets (one character per octet). */
  lines: readonly string[];
}

/** One request as it arrived. */
export interface Arrival {
  token: string;
  method: string;
  /** The Host header. */
  host: string;
  /** The request target (path and query). */
  target: string;
  /** The Cookie header as octets (one character per octet); '' when there was none. */
  cookie: string;
  /** Date.now() when it arrived. */
  at: number;
  tls: boolean;
}

const PAGE =
  '<!doctype html><html><head><link rel="icon" href="data:,"><title>p</title></head><body></body></html>';

export class ParityServer {
  readonly #answers = new Map<string, Answer>();
  readonly #arrivals = new Map<string, Arrival[]>();
  #http: NetServer | undefined;
  #tls: TlsServer | undefined;
  #dir = '';
  #next = 0;
  httpPort = 0;
  httpsPort = 0;
  stray = 0;
  /** Lines that could not go on the wire (NUL, CR, LF or a character above U+00FF): none expected. */
  dropped = 0;

  async start(): Promise<void> {
    this.#dir = mkdtempSync(join(tmpdir(), 'teller-parity-'));
    const key = join(this.#dir, 'key.pem');
    const cert = join(this.#dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=parity',
      ],
      { stdio: 'ignore' },
    );
    this.#http = createNetServer((socket) => this.#serve(socket, false));
    this.#tls = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) =>
      this.#serve(socket, true),
    );
    this.#tls.on('tlsClientError', () => {});
    this.httpPort = await listen(this.#http);
    this.httpsPort = await listen(this.#tls);
  }

  async stop(): Promise<void> {
    await Promise.all([close(this.#http), close(this.#tls)]);
    if (this.#dir !== '') rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Registers an answer; returns its token. */
  register(answer: Answer): string {
    const token = `t${(this.#next++).toString(36)}`;
    this.#answers.set(token, answer);
    return token;
  }

  /** The requests that arrived with `token`, in order (normally one). */
  arrivals(token: string): Arrival[] {
    return this.#arrivals.get(token) ?? [];
  }

  /** Forgets the answers and arrivals of finished scenarios. */
  forget(tokens: Iterable<string>): void {
    for (const t of tokens) {
      this.#answers.delete(t);
      this.#arrivals.delete(t);
    }
  }

  #serve(socket: Socket, tls: boolean): void {
    let buffer: Buffer = Buffer.alloc(0);
    let need = -1; // body octets still to skip
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (need > 0) {
          const skip = Math.min(need, buffer.length);
          buffer = buffer.subarray(skip);
          need -= skip;
          if (need > 0) return;
          need = -1;
        }
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 4);
        const [requestLine = '', ...fields] = head.split('\r\n');
        const [method = 'GET', target = '/'] = requestLine.split(' ');
        const headers = new Map<string, string>();
        for (const field of fields) {
          const colon = field.indexOf(':');
          if (colon === -1) continue;
          const name = field.slice(0, colon).trim().toLowerCase();
          const value = field.slice(colon + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name)}; ${value}` : value);
        }
        need = Number(headers.get('content-length') ?? 0) || -1;
        socket.write(this.#respond(method, target, headers, tls));
      }
    });
  }

  #respond(method: string, target: string, headers: Map<string, string>, tls: boolean): Buffer {
    const token = /[?&]__t=([a-z0-9]+)/.exec(target)?.[1];
    const answer = token === undefined ? undefined : this.#answers.get(token);
    if (token === undefined || answer === undefined) {
      this.stray++;
      return Buffer.from(
        'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nCache-Control: no-store\r\n\r\n',
        'latin1',
      );
    }
    const arrival: Arrival = {
      token,
      method,
      host: headers.get('host') ?? '',
      target,
      cookie: headers.get('cookie') ?? '',
      at: Date.now(),
      tls,
    };
    const list = this.#arrivals.get(token);
    if (list === undefined) this.#arrivals.set(token, [arrival]);
    else list.push(arrival);
    let head =
      'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n' +
      `Access-Control-Allow-Origin: *\r\nContent-Length: ${PAGE.length}\r\n`;
    for (const line of answer.lines) {
      if (/[\0\r\n]|[^\x00-\xff]/.test(line)) {
        this.dropped++;
        continue;
      }
      head += `Set-Cookie: ${line}\r\n`;
    }
    return Buffer.from(`${head}\r\n${PAGE}`, 'latin1');
  }
}

function listen(server: NetServer | TlsServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function close(server: NetServer | TlsServer | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
