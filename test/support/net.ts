/** Network helpers of the tests that run against real servers. */
import { createServer, Socket } from 'node:net';

/** Whether a TCP connection to host:port opens within 1 s. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** Whether `port` can be listened on at 127.0.0.1 now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port free now whose port + 10000 is free too: a Redis Cluster node listens on both (the second is
 * its cluster bus). Free now only: the caller retries when a server fails to bind it.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: got } = server.address() as { port: number };
        server.close(() => resolve(got));
      });
    });
    if (port + 10000 <= 65535 && (await canListen(port + 10000))) return port;
  }
  throw new Error('no free loopback port whose port + 10000 is free too, after 100 tries');
}
