import { connect, type Socket } from 'node:net';
import { setImmediate as immediate } from 'node:timers/promises';

// One trial of a race map, on a raw socket so that nothing between the gap and the write adds
// its own delay or hides what happened (no pool, no retry): connect, send a request, read the
// response, wait `gapMs` after its last byte, send the second request on the same connection and
// see what came of it. The wait sleeps coarsely and spins its last 1.5 ms, and the gap recorded
// is the one that was kept (the write's time less the response's), not the one asked for.

export type TrialOutcome =
  /** The second request was answered on the reused connection. */
  | 'reused'
  /** The server's FIN was seen before the gap ended: a client would open a new connection. */
  | 'closedBefore'
  /** A client obeying the server's Keep-Alive hint would not have reused it. */
  | 'notReused'
  /** Errors on the reused connection: the race. */
  | 'reset'
  | 'peerClosed'
  | 'epipe'
  | 'timeout'
  /** The first request failed: no reuse was tried. */
  | 'firstFailed';

export const RACE_ERRORS = ['reset', 'peerClosed', 'epipe', 'timeout'] as const;

export interface TrialResult {
  plannedMs: number;
  /** The gap kept, ms: the second write's time less the first response's last byte. */
  gapMs: number;
  outcome: TrialOutcome;
  clientPort: number;
  /** The first response's Keep-Alive header, if any. */
  hint: string | null;
}

export interface TrialTarget {
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  method: 'GET' | 'POST';
  /** Don't reuse from this gap on (a client obeying the hint); null: always reuse. */
  reuseLimitMs: (hint: string | null) => number | null;
  timeoutMs: number;
}

const SPIN_MS = 1.5;

/**
 * Sleeps until `t` (performance.now()), the last SPIN_MS by yielding to the event loop; always
 * through at least one poll phase, so that a FIN that arrived while the loop was late has been
 * read before the caller looks at the socket (else a late timer would write on stale news).
 */
export async function sleepUntil(t: number): Promise<void> {
  const coarse = t - performance.now() - SPIN_MS;
  if (coarse > 0) await new Promise((r) => setTimeout(r, coarse));
  do await immediate();
  while (performance.now() < t);
}

const request = (t: TrialTarget) =>
  t.method === 'POST'
    ? `POST ${t.path} HTTP/1.1\r\nHost: ${t.hostHeader}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`
    : `GET ${t.path} HTTP/1.1\r\nHost: ${t.hostHeader}\r\n\r\n`;

interface Reader {
  /** Resolves with the response's Keep-Alive header (or null), at its last byte. */
  next(): Promise<{ hint: string | null } | { error: TrialOutcome }>;
}

/** Responses read off the socket one after another (Content-Length or chunked bodies). */
function reader(socket: Socket, timeoutMs: number): Reader {
  let buf: Buffer = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  let failure: TrialOutcome | null = null;
  const wake = () => {
    const w = waiting;
    waiting = null;
    w?.();
  };
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    wake();
  });
  socket.on('end', () => {
    failure ??= 'peerClosed';
    wake();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    failure = err.code === 'EPIPE' ? 'epipe' : err.code === 'ECONNRESET' ? 'reset' : 'peerClosed';
    wake();
  });
  const complete = (): { length: number; hint: string | null } | null => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = buf.subarray(0, end).toString('latin1');
    const header = (name: string) =>
      new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(head)?.[1]?.trim() ?? null;
    const hint = header('keep-alive');
    if (/chunked/i.test(header('transfer-encoding') ?? '')) {
      const last = buf.indexOf('\r\n0\r\n\r\n', end);
      return last < 0 ? null : { length: last + 7, hint };
    }
    const length = end + 4 + Number(header('content-length') ?? 0);
    return buf.length >= length ? { length, hint } : null;
  };
  return {
    async next() {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const done = complete();
        if (done) {
          buf = buf.subarray(done.length);
          return { hint: done.hint };
        }
        if (failure) return { error: failure };
        const left = deadline - performance.now();
        if (left <= 0) return { error: 'timeout' };
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiting = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
    },
  };
}

export async function trial(t: TrialTarget, plannedMs: number): Promise<TrialResult> {
  const socket = connect({ host: t.host, port: t.port, noDelay: true });
  let seenEnd = false;
  socket.once('end', () => {
    seenEnd = true;
  });
  socket.on('error', () => {});
  const read = reader(socket, t.timeoutMs);
  const base = { plannedMs, gapMs: Number.NaN, clientPort: 0, hint: null as string | null };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch(() => null);
    base.clientPort = socket.localPort ?? 0;
    socket.write(request(t));
    const first = await read.next();
    const t0 = performance.now();
    if ('error' in first) return { ...base, outcome: 'firstFailed' };
    base.hint = first.hint;
    const limit = t.reuseLimitMs(first.hint);
    if (limit !== null && plannedMs >= limit) {
      return { ...base, gapMs: plannedMs, outcome: 'notReused' };
    }
    await sleepUntil(t0 + plannedMs);
    const gapMs = performance.now() - t0;
    // The FIN seen before the gap ended: a pool would have dropped the connection, not reused it.
    if (seenEnd || socket.destroyed) return { ...base, gapMs, outcome: 'closedBefore' };
    socket.write(request(t));
    const second = await read.next();
    return { ...base, gapMs, outcome: 'error' in second ? second.error : 'reused' };
  } finally {
    socket.destroy();
  }
}
