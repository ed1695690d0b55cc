import { decodeHistogram } from '../stats/histogram.js';

// What a type check lets through and no reader can use: a histogram that is not an HDR encoding
// (the HTML report decodes them), a count below zero or not whole (compare read -1e308 requests as
// "+45000.0% WORSE", merge printed "-665814 req/s"), percentiles out of order, a share outside
// [0, 1]. Checked on every run and drive result after its shape (read.ts); "path: why" each.

const MAX_PROBLEMS = 10;

/** Fields that count things, wherever they are: whole and never negative. */
const COUNTS = new Set([
  'completed',
  'errors',
  'cancelled',
  'behindSchedule',
  'notSent',
  'total',
  'opened',
  'closed',
  'accepted',
  'count',
  'connections',
  'requests',
  'samples',
  'lostEvents',
  'oneSided',
  'matched',
  'kernelOnly',
]);

/** Shares of a whole. */
const SHARES = new Set(['serverShare', 'clientShare', 'share']);

/** Percentiles in the order they must hold (a summary has some of them). */
const ORDER = ['min', 'p50', 'p90', 'p99', 'p999', 'p9999', 'max'];

export function valueProblems(data: unknown): string[] {
  const out: string[] = [];
  walk(data, '', out);
  return out.slice(0, MAX_PROBLEMS);
}

function walk(v: unknown, at: string, out: string[]): void {
  if (out.length >= MAX_PROBLEMS || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) walk(x, `${at}[${i}]`, out);
    return;
  }
  const o = v as Record<string, unknown>;
  const path = (k: string) => (at ? `${at}.${k}` : k);
  for (const [k, x] of Object.entries(o)) {
    if (typeof x === 'number') {
      if (COUNTS.has(k) && !(Number.isInteger(x) && x >= 0)) {
        out.push(`${path(k)}: is ${x}, where a count (a whole number, 0 or more) belongs`);
      } else if (SHARES.has(k) && !(x >= 0 && x <= 1)) {
        out.push(`${path(k)}: is ${x}, where a share (0 to 1) belongs`);
      }
    }
    if (k === 'histograms' && x && typeof x === 'object') histograms(x, path(k), out);
    else walk(x, path(k), out);
  }
  ordered(o, at, out);
  if ('unit' in o && 'method' in o) compared(o, at, out);
}

/** A compared metric's two values: numbers, or for a category its names; null: not measured. */
function compared(o: Record<string, unknown>, at: string, out: string[]): void {
  const want = o.unit === 'category' ? 'string' : 'number';
  for (const k of ['baseline', 'current']) {
    const v = o[k];
    if (v !== null && typeof v !== want) out.push(`${at}.${k}: is not a ${want} or null`);
  }
}

/** Each encoded histogram decodes ('' is none recorded). */
function histograms(h: object, at: string, out: string[]): void {
  for (const [k, x] of Object.entries(h)) {
    if (x === '' || x === null) continue;
    if (typeof x === 'string') {
      try {
        decodeHistogram(x).destroy();
        continue;
      } catch {
        // reported below
      }
    }
    out.push(`${at}.${k}: is not a histogram (an HDR histogram, compressed, in base64)`);
  }
}

/** A summary's percentiles in order and never negative. */
function ordered(o: Record<string, unknown>, at: string, out: string[]): void {
  if (typeof o.p50 !== 'number' || typeof o.p99 !== 'number') return;
  const present = ORDER.filter((k) => typeof o[k] === 'number');
  // A summary of nothing recorded is all zeros; one of something is ordered.
  for (let i = 0; i < present.length; i++) {
    const k = present[i] as string;
    const value = o[k] as number;
    const before = i > 0 ? (o[present[i - 1] as string] as number) : 0;
    if (value < before) {
      const what = i > 0 ? `below ${present[i - 1]} (${before})` : 'below 0';
      out.push(`${at ? `${at}.` : ''}${k}: is ${value}, ${what}`);
      return;
    }
  }
}
