import { limitWords, type ProbeVerdict } from '../analysis/search-limit.js';
import type { SearchKnobs } from '../config/search.js';
import type { SearchProbe, SearchRecord } from '../record/run.js';

// The rate search's walk: bracket by doubling from the bottom of the range, bisect on a log scale
// to the precision asked, then confirm the rate found (each confirmation must hold, or the search
// goes on below it) and run once beyond it. `probe` runs one rate and says what happened; null
// when the run was stopped. Noise near the boundary cannot decide the result: a rate that held
// once but fails a confirmation is not the answer.

export type Probe = (rate: number, phase: SearchProbe['phase']) => Promise<ProbeVerdict | null>;

const GUARD = 40;

/** The rate between two, on a log scale, in whole requests per second. */
const between = (lo: number, hi: number) => Math.round(Math.sqrt(lo * hi));

export async function searchRate(knobs: SearchKnobs, probe: Probe): Promise<SearchRecord> {
  const probes: SearchProbe[] = [];
  const held = new Set<number>();
  const failedAt = new Map<number, SearchProbe>();
  let stopped = false;
  const run = async (rate: number, phase: SearchProbe['phase']) => {
    const v = await probe(rate, phase);
    if (!v) {
      stopped = true;
      return null;
    }
    const p: SearchProbe = { rate, variant: `rate=${rate}`, phase, ...v };
    probes.push(p);
    if (v.holds) held.add(rate);
    else if (!failedAt.has(rate)) failedAt.set(rate, p);
    return p;
  };
  const { from, to } = knobs.rate;
  let lo: number | null = null;
  let hi: number | null = null;
  // Bracket: double until a rate fails or the top of the range holds.
  for (let rate = from; probes.length < GUARD; rate = Math.min(to, rate * 2)) {
    const p = await run(rate, 'bracket');
    if (!p) break;
    if (!p.holds) {
      hi = rate;
      break;
    }
    lo = rate;
    if (rate >= to) break;
  }
  let confirmedHeld = 0;
  while (!stopped && lo !== null && probes.length < GUARD) {
    while (hi !== null && hi / lo > 1 + knobs.precision && hi - lo > 1 && !stopped) {
      const m = between(lo, hi);
      const p = await run(m, 'bisect');
      if (p?.holds) lo = m;
      else if (p) hi = m;
    }
    confirmedHeld = 0;
    for (let i = 0; i < knobs.confirm && !stopped; i++) {
      const p = await run(lo, 'confirm');
      if (p?.holds) confirmedHeld++;
      else break;
    }
    if (stopped || confirmedHeld === knobs.confirm) break;
    // It failed a confirmation: the boundary is below it.
    const failed = lo;
    hi = failed;
    const below = [...held].filter((r) => r < failed);
    lo = below.length > 0 ? Math.max(...below) : null;
  }
  let beyondHeld: boolean | null = null;
  if (!stopped && lo !== null && confirmedHeld === knobs.confirm) {
    const p = await run(Math.round(lo * knobs.beyond), 'beyond');
    beyondHeld = p ? p.holds : null;
  }
  return outcome(knobs, { probes, lo, hi, confirmedHeld, beyondHeld, stopped, failedAt });
}

interface Walk {
  probes: SearchProbe[];
  lo: number | null;
  hi: number | null;
  confirmedHeld: number;
  beyondHeld: boolean | null;
  stopped: boolean;
  failedAt: Map<number, SearchProbe>;
}

function outcome(knobs: SearchKnobs, w: Walk): SearchRecord {
  // What broke first: the lowest rate above the one found at which a run failed.
  const above = [...w.failedAt.values()]
    .filter((p) => w.lo === null || p.rate > w.lo)
    .sort((a, b) => a.rate - b.rate)[0];
  const broke = above ?? [...w.failedAt.values()].sort((a, b) => a.rate - b.rate)[0];
  const brokeFirst = broke
    ? {
        limit: broke.limit ?? 'other',
        rate: broke.rate,
        breaches: broke.breaches,
        message: `at ${broke.rate}/s: ${limitWords(broke.limit ?? 'other')}${broke.breaches.length ? ` (${broke.breaches.join('; ')})` : ''}`,
      }
    : null;
  const found = w.lo !== null && w.confirmedHeld === knobs.confirm;
  const verdict: SearchRecord['verdict'] = w.stopped
    ? 'stopped'
    : brokeFirst?.limit === 'driver'
      ? 'driverLimited'
      : !found
        ? 'failsAtBottom'
        : w.hi === null
          ? 'holdsAtTop'
          : 'found';
  return {
    range: { ...knobs.rate },
    precision: knobs.precision,
    confirm: knobs.confirm,
    beyond: knobs.beyond,
    verdict,
    rate: found ? w.lo : null,
    interval: { low: found ? w.lo : null, high: w.hi },
    confirmed: {
      runs: w.probes.filter((p) => p.phase === 'confirm' && p.rate === w.lo).length,
      held: w.confirmedHeld,
    },
    beyondHeld: w.beyondHeld,
    brokeFirst,
    message: searchMessage(verdict, knobs, w, brokeFirst?.message ?? null),
    probes: w.probes,
  };
}

function searchMessage(
  verdict: SearchRecord['verdict'],
  knobs: SearchKnobs,
  w: Walk,
  broke: string | null,
): string {
  const conf = `held in ${w.confirmedHeld} of ${knobs.confirm} confirmations`;
  const beyond =
    w.beyondHeld === null
      ? ''
      : w.beyondHeld
        ? `; it also held at ${knobs.beyond}× (the thresholds are not sharp there)`
        : `; it failed at ${knobs.beyond}×`;
  switch (verdict) {
    case 'stopped':
      return `the search was stopped after ${w.probes.length} runs`;
    case 'driverLimited':
      return `the driver, not the server, failed first${w.lo !== null ? ` above ${w.lo}/s` : ''}: ${broke}`;
    case 'failsAtBottom':
      return `the thresholds failed at ${knobs.rate.from}/s, the bottom of the range${broke ? `: ${broke}` : ''}`;
    case 'holdsAtTop':
      return `the thresholds held at ${knobs.rate.to}/s, the top of the range (${conf}): the limit is higher`;
    default:
      return `the thresholds hold up to ${w.lo}/s (between ${w.lo} and ${w.hi}/s; ${conf}${beyond}); what broke first ${broke}`;
  }
}
