import { pathProblem, ROOTS } from './paths.js';
import { inUnitOf } from './units.js';

// The threshold language: `PATH OP VALUE`, one check per string.
//   PATH   a dotted path to one value of the result: summary.latency.p99, tcp.server.timeWait.max,
//          server.connections.accepted, analysis.timeWait.holder
//   OP     <  <=  >  >=  ==  !=
//   VALUE  a number with an optional unit that fits the value (units.ts): ms, s, us for durations,
//          % for fractions (0.1% = 0.001); or a bare word for == and != (… holder == server)
// A path that names nothing in the result is an error here, when the scenario is resolved, not a
// failed check after the load has run.

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  expr: string;
  path: readonly string[];
  op: ThresholdOp;
  value: number | string;
}

const RE = /^\s*([A-Za-z_][\w]*(?:\.[A-Za-z_0-9][\w]*)*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/;
const NUMBER = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(ms|s|us|%)?$/i;

/** Parses and checks one threshold; throws an Error whose message says what is wrong. */
export function parseThreshold(expr: string): Threshold {
  const m = RE.exec(expr);
  if (!m) {
    throw new Error(
      `"${expr}" does not parse: write PATH OP VALUE, e.g. "summary.latency.p99 < 50ms"`,
    );
  }
  const [, pathText = '', op = '<', raw = ''] = m;
  const path = pathText.split('.');
  if (!(ROOTS as readonly string[]).includes(path[0] as string)) {
    throw new Error(`"${expr}": the path must start with one of ${ROOTS.join(', ')}`);
  }
  const problem = pathProblem(pathText);
  if (problem) throw new Error(`"${expr}": ${problem}`);
  const num = NUMBER.exec(raw);
  if (num) {
    const value = inUnitOf(pathText, Number(num[1]), num[2] ?? '');
    if (value instanceof Error) throw new Error(`"${expr}": ${value.message}`);
    return { expr, path, op: op as ThresholdOp, value };
  }
  if (op !== '==' && op !== '!=') {
    throw new Error(`"${expr}": "${raw}" is not a number (units: ms, s, us, %)`);
  }
  return { expr, path, op: op as ThresholdOp, value: raw };
}
