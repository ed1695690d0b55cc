// The threshold language: `PATH OP VALUE`, one check per string.
//   PATH   a dotted path into the result: summary.latency.p99, tcp.server.timeWait.max,
//          server.connections.accepted, analysis.timeWait.holder
//   OP     <  <=  >  >=  ==  !=
//   VALUE  a number with an optional unit: ms, s, us (durations are milliseconds in the result),
//          % (0.1% = 0.001); or a bare word for == and != (analysis.timeWait.holder == server)

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  expr: string;
  path: readonly string[];
  op: ThresholdOp;
  value: number | string;
}

const ROOTS = ['summary', 'tcp', 'server', 'analysis'];
const RE = /^\s*([A-Za-z_][\w]*(?:\.[A-Za-z_0-9][\w]*)*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/;
const NUMBER = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(ms|s|us|%)?$/i;
const UNIT: Record<string, number> = { ms: 1, s: 1000, us: 0.001, '%': 0.01 };

export function parseThreshold(expr: string): Threshold {
  const m = RE.exec(expr);
  if (!m) {
    throw new Error(
      `"${expr}" does not parse: write PATH OP VALUE, e.g. "summary.latency.p99 < 50ms"`,
    );
  }
  const [, pathText = '', op = '<', raw = ''] = m;
  const path = pathText.split('.');
  if (!ROOTS.includes(path[0] as string)) {
    throw new Error(`"${expr}": the path must start with one of ${ROOTS.join(', ')}`);
  }
  const num = NUMBER.exec(raw);
  if (num) {
    const unit = (num[2] ?? '').toLowerCase();
    return { expr, path, op: op as ThresholdOp, value: Number(num[1]) * (UNIT[unit] ?? 1) };
  }
  if (op !== '==' && op !== '!=') {
    throw new Error(`"${expr}": "${raw}" is not a number (units: ms, s, us, %)`);
  }
  return { expr, path, op: op as ThresholdOp, value: raw };
}

export interface ThresholdOutcome {
  expr: string;
  ok: boolean;
  actual: number | string | null;
  /** Why it failed when the value could not be compared. */
  reason?: string;
}

export function evaluateThreshold(result: unknown, t: Readonly<Threshold>): ThresholdOutcome {
  let at: unknown = result;
  for (const key of t.path) at = (at as Record<string, unknown> | null)?.[key];
  if (at === null || at === undefined) {
    return { expr: t.expr, ok: false, actual: null, reason: 'not measured in this run' };
  }
  if (typeof at !== 'number' && typeof at !== 'string') {
    return {
      expr: t.expr,
      ok: false,
      actual: null,
      reason: 'the path names a section, not a value',
    };
  }
  const a = at;
  const v = t.value;
  const ok =
    t.op === '=='
      ? a === v
      : t.op === '!='
        ? a !== v
        : typeof a !== 'number' || typeof v !== 'number'
          ? false
          : t.op === '<'
            ? a < v
            : t.op === '<='
              ? a <= v
              : t.op === '>'
                ? a > v
                : a >= v;
  return { expr: t.expr, ok, actual: a };
}
