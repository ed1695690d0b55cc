import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { MAX_RESULT_BYTES, unreadableBecause } from '../file-limits.js';
import { COMPARE_SCHEMA } from '../record/compare.js';
import { DRIVER_SCHEMA } from '../record/driver.js';
import {
  exampleDriverSummary,
  exampleInterval,
  exampleRun,
  exampleTcp,
  exampleTcpView,
} from '../record/example.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../record/run.js';
import { TCP_SCHEMA } from '../record/tcp.js';
import { UPGRADES, upgrade } from './upgrade.js';
import { type ResultKind, shapeProblems } from './validate.js';
import { valueProblems } from './values.js';

/** What each readable kind must look like: its example (one of each list's entries), its types. */
const EXAMPLES: Record<string, { example: () => unknown; shape: ResultKind }> = {
  [RUN_SCHEMA]: { example: () => runExample(), shape: 'run' },
  [RUNS_SCHEMA]: { example: () => runsExample(), shape: 'runs' },
  [DRIVER_SCHEMA]: { example: () => driveExample(), shape: 'drive' },
  [COMPARE_SCHEMA]: { example: () => compareExample(), shape: 'compare' },
  [TCP_SCHEMA]: { example: () => tcpExample(), shape: 'tcp' },
};

/** A file of several runs: each run as above, and the plan around them (a sweep, a search). */
function runsExample() {
  const probe = {
    rate: 0,
    variant: '',
    phase: '',
    holds: false,
    breaches: [''],
    limit: '',
    achieved: 0,
  };
  return {
    schema: RUNS_SCHEMA,
    name: '',
    startedAt: '',
    partial: false,
    repeats: 0,
    variants: [runExample()],
    planned: 0,
    stoppedBy: null,
    sweep: { paths: [''], scale: [''], points: [{ variant: '', values: {} }] },
    search: {
      range: { from: 0, to: 0 },
      precision: 0,
      confirm: 0,
      beyond: 0,
      verdict: '',
      rate: 0,
      interval: { low: 0, high: 0 },
      confirmed: { runs: 0, held: 0 },
      beyondHeld: false,
      brokeFirst: { limit: '', rate: 0, breaches: [''], message: '' },
      message: '',
      probes: [probe],
    },
  };
}

/** A `sample --json` result (a server host's view, for merge): its summary and every sample. */
function tcpExample() {
  return {
    schema: TCP_SCHEMA,
    ...exampleTcp(),
    timeline: [{ t: 0, ...exampleTcpView(), costMs: 0 }],
  };
}

/** A comparison: each metric's values may be a number or a name, so they are not typed here. */
function compareExample() {
  const metric = {
    name: '',
    baseline: null,
    current: null,
    change: 0,
    interval: [0, 0],
    verdict: '',
    method: '',
    tolerance: 0,
    changeIs: '',
    unit: '',
    ownDelay: 0,
  };
  const side = { file: '', runs: 0 };
  return {
    schema: COMPARE_SCHEMA,
    scenario: '',
    baseline: side,
    current: side,
    verdict: '',
    metrics: [metric],
    variants: [{ name: '', verdict: '', metrics: [metric] }],
    notes: [''],
  };
}

/** A drive result as the decoder checks it: its shard and what merged it (see runExample). */
function driveExample() {
  const d = exampleDriverSummary();
  const shard = { index: 0, count: 0, startAt: 0, lateMs: 0, host: '' };
  return {
    ...d,
    shard,
    mergedFrom: [{ ...shard, resources: d.resources, requests: 0 }],
    rate: 0,
    notMeasured: [''],
    timeline: [exampleInterval()],
  };
}

/**
 * The example as the decoder checks against it: where the record's example says null or an empty
 * list (a field that may be null, a list of anything), a value of the type the field holds when
 * it holds one, so that a file's `findings: [null]` or `withheld: -1` is refused here and never
 * reaches a reader. (The record's example stays all-null and empty: tests build runs from it.)
 */
function runExample() {
  const r = exampleRun();
  const a = r.analysis;
  const texts = [''];
  return {
    ...r,
    variant: '',
    repeat: 0,
    target: { ...r.target, pid: 0 },
    environment: { ...r.environment, cpusShared: '' },
    scenario: { ...r.scenario, thresholds: texts },
    summary: { ...r.summary, rate: 0, notMeasured: texts },
    tcpUnavailable: '',
    analysis: {
      ...a,
      closes: { ...a.closes, findings: texts },
      timeWait: { ...a.timeWait, withheld: '', explanation: texts },
      capacity: { ...a.capacity, notes: texts },
      race: { ...a.race, withheld: '', explanation: texts },
      anomalies: [{ kind: 'resets', side: null, count: 0, message: '' }],
    },
    // Every part of an interval is checked: a reader of the timeline (the HTML charts, the
    // window) meets each.
    timeline: [
      {
        t: 0,
        phase: 'load',
        load: exampleInterval(),
        tcp: exampleTcpView(),
        back: exampleTcpView(),
      },
    ],
    thresholds: [{ expr: '', ok: true, actual: null }],
  };
}

// Reading a saved result: a file this version can read, or one message that names the file, what
// is wrong with it and what to give instead (a result of another schema version is named so).
// An older version this one knows is brought to the current shape first (upgrade.ts).

const bad = (file: string, why: string, fix: string) =>
  new LabError('KAL_RESULT_UNREADABLE', `${file}: ${why}`, {
    problems: [{ path: file, message: fix }],
  });

/**
 * The parsed file if its `schema` is one of `accept`; `wanted` says what to give instead, e.g.
 * "a result written by `keepalive-lab run --json`".
 */
export async function readResultFile<T>(
  file: string,
  accept: readonly string[],
  wanted: string,
): Promise<T> {
  const why = await unreadableBecause(file, MAX_RESULT_BYTES);
  if (why) throw bad(file, why, `give ${wanted}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw bad(
      file,
      (err as NodeJS.ErrnoException).code ?? String(err),
      `give the path of ${wanted}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw bad(file, 'is not JSON', `give ${wanted}`);
  }
  data = upgrade(data);
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'string' && accept.includes(schema)) {
    const kind = EXAMPLES[schema];
    const shape = kind ? shapeProblems(data, kind.example(), kind.shape) : [];
    // Values only once the types hold: the checks read the file as the types say it is.
    const problems = shape.length > 0 || !kind ? shape : valueProblems(data);
    if (problems.length > 0) {
      throw new LabError('KAL_RESULT_UNREADABLE', `${file}: is not what ${schema} holds`, {
        problems: [
          ...problems.map((p) => ({
            path: p.split(':')[0] ?? p,
            message: p.slice(p.indexOf(':') + 2),
          })),
          { path: file, message: 'make the result again, or give the file as it was written' },
        ],
      });
    }
    return data as T;
  }
  const older = Object.keys(UPGRADES);
  const all = [...accept, ...older.filter((o) => accept.some((a) => sameKind(a, o)))];
  const readable = `${all.slice(0, -1).join(', ')}${all.length > 1 ? ' and ' : ''}${all.at(-1)}`;
  throw bad(
    file,
    typeof schema === 'string'
      ? `is ${schema}; this version reads ${readable}`
      : 'is not a keepalive-lab result',
    typeof schema === 'string' && schema.startsWith('keepalive-lab/')
      ? 'make the result again with this version'
      : `give ${wanted}`,
  );
}

/** keepalive-lab/run@2 and keepalive-lab/run@4 are results of one kind. */
const sameKind = (a: string, b: string) => a.split('@')[0] === b.split('@')[0];

/**
 * Runs what a command does with result files. The checks above are the only gate: a file that
 * passed them and still makes a reader throw is this product's bug, not the file's, and is said
 * so (KAL_INTERNAL, exit 1) with the files to send, never "your file is bad".
 */
export async function withResults<T>(files: readonly string[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LabError) throw err;
    const why = (err as Error)?.message ?? String(err);
    throw new LabError(
      'KAL_INTERNAL',
      `reading ${files.join(', ')} failed inside keepalive-lab (${why}): this is a bug, please report it`,
      {
        problems: files.map((f) => ({
          path: f,
          message: 'attach this file to the report (it passed every check this version makes)',
        })),
        cause: err,
      },
    );
  }
}
