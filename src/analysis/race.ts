import type { Measured } from './measured.js';

// The keep-alive race: a client reuses an idle connection just as the server's idle timer closes
// it, and the request fails with a reset or "other side closed". The verdict comes from the errors
// counted on reused connections; the timeouts are shown to explain it.

const RACE_CLASSES = ['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'] as const;

export interface RaceVerdict {
  /** null when the engine cannot tell reused connections apart (autocannon). */
  detected: boolean | null;
  errorsOnReused: number | null;
  byClass: Record<string, number> | null;
  serverIdleTimeoutMs: number | null;
  serverSendsHint: boolean | null;
  clientIdleTimeoutMs: number;
  /** The client's idle timeout as it behaves: from the hint minus undici's threshold, if it obeys. */
  clientEffectiveIdleMs: number | null;
  idleGapMs: number;
  explanation: string[];
}

export function detectRace(m: Measured): RaceVerdict {
  const reused = m.summary.errors.reusedByClass;
  const byClass = reused ? Object.fromEntries(RACE_CLASSES.map((c) => [c, reused[c] ?? 0])) : null;
  const errorsOnReused = byClass ? Object.values(byClass).reduce((a, b) => a + b, 0) : null;
  const t = m.target.kind === 'built-in' ? m.scenario.target : null;
  const serverIdle = t ? t.keepAliveTimeout : null;
  const hint = t ? t.keepAliveHint && t.keepAliveTimeout > 0 : null;
  const c = m.scenario.client;
  const obeysHint = c.engine === 'undici';
  const effective =
    hint && obeysHint && serverIdle !== null
      ? Math.min(
          Math.floor(serverIdle / 1000) * 1000 - c.keepAliveTimeoutThreshold,
          c.keepAliveMaxTimeout,
        )
      : c.engine === 'undici'
        ? c.keepAliveTimeout
        : null;
  const explanation: string[] = [];
  if (errorsOnReused) {
    explanation.push(
      `${errorsOnReused} requests failed on reused connections (${Object.entries(byClass ?? {})
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
    if (serverIdle !== null && effective !== null && effective >= serverIdle) {
      explanation.push(
        `the client keeps idle connections ${effective} ms, at least the server's ${serverIdle} ms idle timeout${
          hint ? '' : ', and the server sends no Keep-Alive hint'
        }: a request can leave just as the server closes`,
      );
    }
    if (m.scenario.load.idleGap > 0) {
      explanation.push(`requesters idled ${m.scenario.load.idleGap} ms between bursts`);
    }
  }
  return {
    detected: errorsOnReused === null ? null : errorsOnReused > 0,
    errorsOnReused,
    byClass,
    serverIdleTimeoutMs: serverIdle,
    serverSendsHint: hint,
    clientIdleTimeoutMs: c.keepAliveTimeout,
    clientEffectiveIdleMs: effective,
    idleGapMs: m.scenario.load.idleGap,
    explanation,
  };
}
