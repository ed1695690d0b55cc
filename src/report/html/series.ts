import * as hdr from 'hdr-histogram-js';
import type { RunInterval, RunResult } from '../../record/run.js';

// A run's timeline and histograms as the arrays a chart plots: one x (seconds since the baseline),
// one y array per series, null where a series has no value. Long runs are cut to MAX_POINTS by
// taking each bucket's maximum (states, latency: the peak must not vanish) or mean (rates).

export const MAX_POINTS = 600;

export interface Chart {
  id: string;
  title: string;
  /** What the y axis counts. */
  unit: string;
  x: number[];
  series: { label: string; values: (number | null)[]; dash?: boolean }[];
  /** Times (s) where the phase changed: the load began, the tail began. */
  marks: { t: number; label: string }[];
  /** The x axis is 1/(1-p) on a log scale (an HDR percentile plot). */
  percentileAxis?: boolean;
  logY?: boolean;
  /** The x axis's label (default: seconds); its tick labels where x is a position in a list. */
  xLabel?: string;
  xTicks?: string[];
  logX?: boolean;
  /** Draw each point (a curve of few points, not a timeline). */
  points?: boolean;
}

type Pick = (e: RunInterval) => number | null;

function downsample(entries: RunInterval[], picks: { pick: Pick; how: 'max' | 'mean' }[]) {
  const step = Math.max(1, Math.ceil(entries.length / MAX_POINTS));
  const x: number[] = [];
  const ys = picks.map(() => [] as (number | null)[]);
  for (let i = 0; i < entries.length; i += step) {
    const chunk = entries.slice(i, i + step);
    x.push(Math.round((chunk.at(-1) as RunInterval).t) / 1000);
    picks.forEach(({ pick, how }, k) => {
      const vals = chunk.map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
      const y =
        vals.length === 0
          ? null
          : how === 'max'
            ? Math.max(...vals)
            : vals.reduce((a, b) => a + b, 0) / vals.length;
      (ys[k] as (number | null)[]).push(y);
    });
  }
  return { x, ys };
}

function phaseMarks(timeline: RunInterval[]): { t: number; label: string }[] {
  const marks: { t: number; label: string }[] = [];
  let prev: string | null = null;
  let prevT = 0;
  for (const e of timeline) {
    if (prev !== null && e.phase !== prev) {
      marks.push({ t: prevT / 1000, label: e.phase === 'tail' ? 'load ends, tail' : `${e.phase}` });
    }
    prev = e.phase;
    prevT = e.t;
  }
  if (timeline[0]?.phase === 'load') marks.unshift({ t: 0, label: 'load' });
  return marks;
}

const perSecond = (n: number, e: RunInterval) =>
  e.load && e.load.durationMs > 0 ? (n * 1000) / e.load.durationMs : null;

export const TCP_STATES_SHOWN = [
  ['timeWait', 'TIME_WAIT'],
  ['established', 'ESTABLISHED'],
  ['closeWait', 'CLOSE_WAIT'],
  ['finWait2', 'FIN_WAIT2'],
] as const;

type SidesOf = (e: RunInterval) => RunInterval['tcp'] | RunInterval['back'] | undefined;

/** States per side over the run, from one view of the connections (the run's, or the back leg's). */
function statesChart(
  r: RunResult,
  id: string,
  title: string,
  sides: SidesOf,
  names: Record<'client' | 'server', string>,
): Chart | null {
  if (!r.timeline.some((e) => sides(e))) return null;
  const picks = (['client', 'server'] as const).flatMap((side) =>
    TCP_STATES_SHOWN.map(([state, label]) => ({
      label: `${names[side]} ${label}`,
      dash: side === 'client',
      pick: ((e: RunInterval) => sides(e)?.[side].states[state] ?? null) as Pick,
      how: 'max' as const,
    })),
  );
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title,
    unit: 'sockets',
    x,
    series: picks.map((p, k) => ({ label: p.label, values: ys[k] ?? [], dash: p.dash })),
    marks: phaseMarks(r.timeline),
  };
}

export const tcpChart = (r: RunResult, id: string) =>
  statesChart(r, id, 'TCP states per side (the run’s connections)', (e) => e.tcp, {
    client: 'client',
    server: 'server',
  });

/** Behind a proxy: the back leg's states, the proxy as its client, the target as its server. */
export const backLegChart = (r: RunResult, id: string) =>
  statesChart(r, id, 'Back leg (proxy → target): TCP states per side', (e) => e.back, {
    client: 'proxy',
    server: 'target',
  });

/** An interval's own delay of the driver at p99: schedule lag or event-loop stall (ms). */
const ownP99: Pick = (e) => {
  const self = e.load?.self;
  if (!self || !e.load?.requests) return null;
  return Math.max(self.lag?.p99 ?? 0, Math.max(0, self.eventLoopDelay.p99 - 1));
};

export function loadChart(r: RunResult, id: string): Chart {
  const picks: { label: string; pick: Pick; how: 'max' | 'mean'; dash?: boolean }[] = [
    { label: 'p50', pick: (e) => (e.load?.requests ? e.load.latency.p50 : null), how: 'max' },
    { label: 'p99', pick: (e) => (e.load?.requests ? e.load.latency.p99 : null), how: 'max' },
    { label: 'p99.9', pick: (e) => (e.load?.requests ? e.load.latency.p999 : null), how: 'max' },
    { label: "the driver's own delay, p99", pick: ownP99, how: 'max', dash: true },
  ];
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title: "Latency percentiles per interval, and the driver's own delay (ms)",
    unit: 'ms',
    x,
    series: picks.map((p, k) => ({
      label: p.label,
      values: ys[k] ?? [],
      ...(p.dash ? { dash: true } : {}),
    })),
    marks: phaseMarks(r.timeline),
    logY: true,
  };
}

export function rateChart(r: RunResult, id: string): Chart {
  const classes = new Set<string>();
  for (const e of r.timeline) {
    for (const [c, n] of Object.entries(e.load?.errorsByClass ?? {})) if (n > 0) classes.add(c);
  }
  const picks: { label: string; pick: Pick; how: 'max' | 'mean'; dash?: boolean }[] = [
    { label: 'requests/s', pick: (e) => (e.load ? e.load.rps : null), how: 'mean' },
    {
      label: 'connections opened/s',
      pick: (e) => (e.load ? perSecond(e.load.newConnections, e) : null),
      how: 'mean',
    },
    ...[...classes].map((c) => ({
      label: `${c} errors/s`,
      dash: true,
      pick: ((e: RunInterval) =>
        e.load
          ? perSecond(e.load.errorsByClass[c as keyof typeof e.load.errorsByClass], e)
          : null) as Pick,
      how: 'mean' as const,
    })),
  ];
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title: 'Throughput, connections opened and errors per second',
    unit: '/s',
    x,
    series: picks.map((p, k) => ({
      label: p.label,
      values: ys[k] ?? [],
      ...(p.dash ? { dash: true } : {}),
    })),
    marks: phaseMarks(r.timeline),
  };
}

/** HTTP/2 per interval (run@7 on; older results kept the totals only). */
const http2Picks: { label: string; pick: Pick; how: 'mean' }[] = [
  { label: 'GOAWAYs received', pick: (e) => perThousandIn(e.load?.http2?.goaways, e), how: 'mean' },
  {
    label: 'streams refused, cut or reset',
    pick: (e) => {
      const h = e.load?.http2;
      return perThousandIn(h ? h.refused + h.cutAtClose + h.reset : undefined, e);
    },
    how: 'mean',
  },
];

/** `n` per 1,000 of the requests completed in the interval; null where none completed. */
const perThousandIn = (n: number | undefined, e: RunInterval) =>
  e.load && e.load.requests > 0 && n !== undefined ? (1000 * n) / e.load.requests : null;

/**
 * Churn per interval, per 1,000 requests: connections opened (HTTP/1.1 with keep-alive off is
 * 1,000; HTTP/2 at 100 streams per connection is 10), TIME_WAIT entered per side where the
 * kernel tracer counted it, and for HTTP/2 the GOAWAYs received and the streams refused or cut
 * around them; comparable across rates and protocols.
 */
export function churnChart(r: RunResult, id: string): Chart | null {
  if (!r.timeline.some((e) => e.load && e.load.requests > 0)) return null;
  const traced = r.timeline.some((e) => e.tcp?.closes);
  const http2 = r.timeline.some((e) => e.load?.http2);
  const picks: { label: string; pick: Pick; how: 'max' | 'mean' }[] = [
    {
      label: 'connections opened',
      pick: (e) => perThousandIn(e.load?.newConnections, e),
      how: 'mean',
    },
    ...(traced
      ? (['client', 'server'] as const).map((side) => ({
          label: `TIME_WAIT entered, ${side}`,
          pick: ((e: RunInterval) =>
            perThousandIn(e.tcp?.closes?.timeWaitEntered[side], e)) as Pick,
          how: 'mean' as const,
        }))
      : []),
    ...(http2 ? http2Picks : []),
  ];
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title: `Per 1,000 requests, per interval: connections opened${traced ? ', TIME_WAIT entered per side (kernel)' : ''}${http2 ? ', GOAWAYs and streams refused, cut or reset' : ''}${r.summary.http2 ? ' — HTTP/2 streams share a connection' : ''}`,
    unit: 'per 1,000 requests',
    x,
    series: picks.map((p, k) => ({ label: p.label, values: ys[k] ?? [] })),
    marks: phaseMarks(r.timeline),
  };
}

/**
 * Connect time per interval (the kernel's, SYN_SENT→ESTABLISHED, and the driver's own) beside the
 * client's port occupancy; null when the run has neither.
 */
export function connectChart(r: RunResult, id: string): Chart | null {
  const has = r.timeline.some((e) => e.load?.connect || e.tcp?.client.connect);
  if (!has) return null;
  const picks: { label: string; pick: Pick; how: 'max' | 'mean'; dash?: boolean }[] = [
    { label: 'kernel connect p50', pick: (e) => e.tcp?.client.connect?.p50 ?? null, how: 'max' },
    { label: 'kernel connect p99', pick: (e) => e.tcp?.client.connect?.p99 ?? null, how: 'max' },
    {
      label: 'driver connect p50',
      pick: (e) => e.load?.connect?.p50 ?? null,
      how: 'max',
      dash: true,
    },
    {
      label: 'reused request p50',
      pick: (e) => e.load?.latencyReused?.p50 ?? null,
      how: 'max',
      dash: true,
    },
  ];
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title: 'Connect time per interval (ms): the kernel’s and the driver’s',
    unit: 'ms',
    x,
    series: picks
      .map((p, k) => ({ label: p.label, values: ys[k] ?? [], ...(p.dash ? { dash: true } : {}) }))
      .filter((s) => s.values.some((v) => v !== null)),
    marks: phaseMarks(r.timeline),
    logY: true,
  };
}

/** The client's port range in use per interval, %; null without a measured occupancy. */
export function occupancyChart(r: RunResult, id: string): Chart | null {
  if (!r.timeline.some((e) => e.tcp?.client.portOccupancy != null)) return null;
  const picks: { pick: Pick; how: 'max' | 'mean' }[] = [
    {
      pick: (e) => {
        const o = e.tcp?.client.portOccupancy;
        return o === null || o === undefined ? null : 100 * o;
      },
      how: 'max',
    },
  ];
  const { x, ys } = downsample(r.timeline, picks);
  return {
    id,
    title: 'Client port range in use toward the target (%, TIME_WAIT included)',
    unit: '%',
    x,
    series: [{ label: 'port occupancy', values: ys[0] ?? [] }],
    marks: phaseMarks(r.timeline),
  };
}

/** Percentile levels for an HDR plot: evenly spaced in log10(1/(1-p)), up to 99.999%. */
const LEVELS = Array.from({ length: 51 }, (_, i) => 100 * (1 - 10 ** (-i / 10)));

/** x = log10(1/(1-p)); y = latency at p, ms. */
export function percentileCurve(
  encodedUs: string | undefined,
): { x: number[]; y: number[] } | null {
  if (!encodedUs) return null;
  const h = hdr.decodeFromCompressedBase64(encodedUs, 64, false);
  try {
    if (h.totalCount === 0) return null;
    const x: number[] = [];
    const y: number[] = [];
    for (const p of LEVELS) {
      // A level past the last recorded value is only the maximum repeated.
      if ((1 - p / 100) * h.totalCount < 0.5 && x.length > 0) break;
      x.push(Math.log10(1 / (1 - Math.min(p, 99.9999) / 100)));
      y.push(h.getValueAtPercentile(p) / 1000);
    }
    return { x, y };
  } finally {
    h.destroy();
  }
}

/** Curves on one x: the union of their levels, null where a curve stopped. */
export function percentileChart(
  id: string,
  title: string,
  curves: { label: string; encoded: string | undefined }[],
): Chart | null {
  const made = curves
    .map((c) => ({ label: c.label, curve: percentileCurve(c.encoded) }))
    .filter((c): c is { label: string; curve: { x: number[]; y: number[] } } => c.curve !== null);
  if (made.length === 0) return null;
  const x = [...new Set(made.flatMap((c) => c.curve.x))].sort((a, b) => a - b);
  return {
    id,
    title,
    unit: 'ms',
    x,
    series: made.map((c) => {
      const at = new Map(c.curve.x.map((v, i) => [v, c.curve.y[i] as number]));
      return { label: c.label, values: x.map((v) => at.get(v) ?? null) };
    }),
    marks: [],
    percentileAxis: true,
    logY: true,
  };
}

/** One series per run on the same axes (variants overlaid). */
export function overlayChart(
  runs: { label: string; r: RunResult }[],
  id: string,
  title: string,
  unit: string,
  pick: Pick,
  how: 'max' | 'mean',
): Chart {
  const per = runs.map(({ label, r }) => ({ label, ...downsample(r.timeline, [{ pick, how }]) }));
  const x = [...new Set(per.flatMap((p) => p.x))].sort((a, b) => a - b);
  return {
    id,
    title,
    unit,
    x,
    series: per.map((p) => {
      const at = new Map(p.x.map((v, i) => [v, p.ys[0]?.[i] ?? null]));
      return { label: p.label, values: x.map((v) => at.get(v) ?? null) };
    }),
    marks: [],
  };
}
