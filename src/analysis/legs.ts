import type { LegVerdict } from '../record/analysis.js';
import type { Leg, Measurements, RunInterval } from '../record/run.js';
import { FIRST_FIN } from '../record/tcp.js';
import { portBudget } from './capacity.js';
import { holderOf } from './time-wait.js';

// A proxied run leg by leg: on each, who sent the first FIN and who entered TIME_WAIT, from the
// kernel's record on that leg's port (else the peak TIME_WAIT per side), with the same shares as
// the whole run's verdict; and on the back leg the proxy's own port budget toward the target, the
// case where a proxy without an upstream pool runs out of ports. Measurements only, never knobs.

/**
 * The proxy's rate of closes toward the target, from the back leg's per-interval record, before
 * the client first got a 5xx (when the proxy cannot reach the target it answers 502: after that
 * it cannot open, so cannot close, connections); and when that first 5xx came, seconds into the
 * load (the middle of its interval). Null without a per-interval record.
 */
function backLegRate(
  timeline: readonly RunInterval[],
): { rate: number | null; firstGatewayErrorSeconds: number | null } | null {
  const load = timeline.filter((i) => i.phase === 'load' && i.load);
  const first = load[0];
  if (!first?.load) return null;
  const loadStart = first.t - first.load.durationMs;
  const onsetIndex = load.findIndex((i) => (i.load?.status['5xx'] ?? 0) > 0);
  const onset = onsetIndex >= 0 ? load[onsetIndex] : undefined;
  const before = onsetIndex >= 0 ? load.slice(0, onsetIndex) : load;
  const seconds = before.reduce((s, i) => s + (i.load?.durationMs ?? 0), 0) / 1000;
  const traced = before.length > 0 && before.every((i) => i.back?.closes);
  return {
    rate: traced
      ? before.reduce((n, i) => n + (i.back?.closes?.timeWaitEntered.client ?? 0), 0) / seconds
      : null,
    firstGatewayErrorSeconds: onset?.load
      ? (onset.t - onset.load.durationMs / 2 - loadStart) / 1000
      : null,
  };
}

function verdict(
  leg: Leg,
  names: { client: 'client' | 'proxy'; server: 'proxy' | 'target' },
  loadSeconds: number,
  url: string,
  back: boolean,
  timeline: readonly RunInterval[],
): LegVerdict {
  const tcp = leg.tcp;
  const closes = tcp?.closes ?? null;
  const entered = closes
    ? closes.timeWaitEntered
    : tcp
      ? { client: tcp.client.timeWait.max, server: tcp.server.timeWait.max }
      : null;
  const ended = closes?.connections ?? leg.connections ?? 0;
  const holder = entered ? holderOf(entered.client, entered.server, ended) : null;
  const firstFin =
    closes && closes.connections > 0
      ? (Object.fromEntries(
          FIRST_FIN.map((k) => [k, closes.firstFin[k] / closes.connections]),
        ) as LegVerdict['firstFin'])
      : null;
  const rate = back ? backLegRate(timeline) : null;
  const closeRate = rate?.rate ?? (entered && loadSeconds > 0 ? entered.client / loadSeconds : 0);
  const ports =
    back && tcp
      ? {
          ...portBudget(tcp.client, closeRate, url),
          observedExhaustionSeconds: rate?.firstGatewayErrorSeconds ?? null,
        }
      : null;
  const who = (h: 'client' | 'server') => (h === 'client' ? names.client : names.server);
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const parts = [
    `${names.client} → ${names.server}: ${
      leg.connectionsPerRequest === null
        ? 'connections not counted'
        : `${leg.connectionsPerRequest.toFixed(3)} connections per request (${leg.connections}, ${leg.connectionsFrom})`
    }`,
    holder === null
      ? 'TIME_WAIT not measured'
      : holder === 'both'
        ? `TIME_WAIT on both ends (${names.client} ${entered?.client}, ${names.server} ${entered?.server}): who closes first is a race here`
        : holder === 'none'
          ? 'no TIME_WAIT held'
          : `TIME_WAIT held by the ${who(holder)} (${entered?.[holder]} of ${(entered?.client ?? 0) + (entered?.server ?? 0)})`,
  ];
  if (firstFin) {
    parts.push(
      `first FIN: ${names.client} ${pct(firstFin.client)}, ${names.server} ${pct(firstFin.server)}${firstFin.simultaneous ? `, both ${pct(firstFin.simultaneous)}` : ''}${firstFin.reset ? `, reset ${pct(firstFin.reset)}` : ''}`,
    );
  }
  if (ports?.budgetPerSecond != null && closeRate > 0) {
    parts.push(
      `the proxy closes ${closeRate.toFixed(1)}/s toward the target against a budget of ${ports.budgetPerSecond.toFixed(0)}/s (${ports.range} ports / 60 s)${
        ports.secondsToExhaustion !== null
          ? `: its ports run out in ~${ports.secondsToExhaustion.toFixed(1)} s${
              ports.observedExhaustionSeconds !== null
                ? ` (the client's first 5xx came at ${ports.observedExhaustionSeconds.toFixed(1)} s)`
                : ''
            }`
          : ports.twReuseApplies
            ? ` (tcp_tw_reuse=${ports.twReuse} lets it reuse them here)`
            : ''
      }`,
    );
  }
  return {
    clientIs: names.client,
    serverIs: names.server,
    connectionsPerRequest: leg.connectionsPerRequest,
    holder,
    firstFin,
    timeWaitEntered: entered,
    ports,
    message: parts.join('; '),
  };
}

export function analyzeLegs(m: Measurements): { front: LegVerdict; back: LegVerdict } | null {
  if (!m.legs) return null;
  const seconds = (m.summary.measuredMs + m.summary.warmupMs) / 1000;
  return {
    front: verdict(
      m.legs.front,
      { client: 'client', server: 'proxy' },
      seconds,
      m.target.url,
      false,
      m.timeline,
    ),
    back: verdict(
      m.legs.back,
      { client: 'proxy', server: 'target' },
      seconds,
      m.target.url,
      true,
      m.timeline,
    ),
  };
}
