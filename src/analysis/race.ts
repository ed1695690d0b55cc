import type { RaceVerdict } from '../record/analysis.js';
import type { Http2Counts } from '../record/driver.js';
import type { LatencySummary } from '../record/histogram.js';
import type { Measurements } from '../record/run.js';
import { duration } from './phrases.js';

// The keep-alive race: a client reuses an idle connection just as the server's idle timer closes
// it, and the request fails with a reset or "other side closed". The verdict comes from the errors
// counted on reused connections; the explanation from what was observed: how long connections sat
// idle when the server closed them (the target's count, or the client's view of an external
// server), how long the client let them idle before reusing them, and the hint it received.

const RACE_CLASSES = ['ECONNRESET', 'peerClosed', 'EPIPE'] as const;

/** A client that reuses connections this close to the server's idle close is in the race. */
const NEAR_SERVER_IDLE = 0.8;

const median = (s: LatencySummary | null | undefined) => (s && s.count > 0 ? s.p50 : null);

export function detectRace(m: Measurements): RaceVerdict {
  const reused = m.summary.errors.reusedByClass;
  const byClass = reused ? Object.fromEntries(RACE_CLASSES.map((c) => [c, reused[c] ?? 0])) : null;
  const errorsOnReused = byClass ? Object.values(byClass).reduce((a, b) => a + b, 0) : null;
  const idle = m.summary.connections.idle;
  const targetIdle = m.server && m.server.serverCloseReasons.idleTimeout > 0;
  const serverIdle = targetIdle ? median(m.server?.idleAtIdleTimeout) : median(idle?.atServerClose);
  const serverIdleCount = targetIdle
    ? (m.server?.serverCloseReasons.idleTimeout ?? 0)
    : (idle?.atServerClose.count ?? 0);
  const reuseMax = idle && idle.beforeReuse.count > 0 ? idle.beforeReuse.max : null;
  const responses = m.summary.responses;
  const hint = responses ? mostCommon(responses.keepAliveHints) : null;

  const atGoaway = goawayLosses(m.summary.http2, errorsOnReused);
  const racing = errorsOnReused === null ? null : errorsOnReused - atGoaway.count;
  const explanation: string[] = atGoaway.line ? [atGoaway.line] : [];
  if (racing) {
    explanation.push(
      `${racing} requests failed on reused connections (${Object.entries(byClass ?? {})
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
    if (serverIdle !== null) {
      explanation.push(
        `the server closed ${serverIdleCount} idle connections after ${duration(serverIdle)} idle (median${
          targetIdle ? ", the target's own count" : ', as the client saw it'
        })`,
      );
    }
    if (serverIdle !== null && reuseMax !== null && reuseMax >= NEAR_SERVER_IDLE * serverIdle) {
      explanation.push(
        `the client reused connections that had sat idle up to ${duration(reuseMax)}, about as long as the server lets them idle${
          responses && hint === null ? ', and it received no Keep-Alive hint' : ''
        }: a request can leave just as the server closes`,
      );
    } else if (responses && hint === null) {
      explanation.push('the client received no Keep-Alive hint to give up idle connections sooner');
    }
    if (hint !== null) explanation.push(`the server sent "Keep-Alive: ${hint}"`);
  }
  return {
    detected: racing === null ? null : racing > 0,
    withheld: null,
    errorsOnReused,
    byClass,
    serverIdleCloseMs: serverIdle,
    clientReuseIdleMaxMs: reuseMax,
    clientIdleCloseMs: median(idle?.atClientIdleClose),
    hintReceived: hint,
    hintMeasured: responses !== null,
    explanation,
  };
}

/**
 * HTTP/2 retires a session with a GOAWAY that names the last stream it will serve: a client that
 * honours it loses nothing, so errors there are the GOAWAY's (streams cut or reset as the session
 * closed, counted by the engine), not the idle race.
 */
function goawayLosses(
  h2: Http2Counts | null,
  errorsOnReused: number | null,
): { count: number; line: string | null } {
  const count = h2 && errorsOnReused ? Math.min(errorsOnReused, h2.cutAtClose + h2.reset) : 0;
  if (!h2 || count === 0) return { count, line: null };
  return {
    count,
    line: `${count} of the ${errorsOnReused} errors on reused connections were HTTP/2 streams lost at a GOAWAY (${h2.cutAtClose} cut by their session's close, ${h2.reset} reset; ${h2.goaways} GOAWAYs received): the client dropped streams in flight instead of letting them finish, not the idle race`,
  };
}

function mostCommon(counts: Record<string, number>): string | null {
  let best: string | null = null;
  let most = 0;
  for (const [value, n] of Object.entries(counts)) {
    if (n > most) {
      best = value;
      most = n;
    }
  }
  return best;
}
