import { COMPARE_SCHEMA } from '../../record/compare.js';
import { DRIVER_SCHEMA } from '../../record/driver.js';
import { RACE_MAP_SCHEMA } from '../../record/race-map.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../../record/run.js';
import { TCP_SCHEMA } from '../../record/tcp.js';
import type { Schema } from '../schema.js';
import { schemaProblems } from '../schema.js';
import { SCHEMA as COMPARE } from '../schemas/compare-v3.generated.js';
import { SCHEMA as DRIVE } from '../schemas/drive-v7.generated.js';
import { SCHEMA as RACE_MAP } from '../schemas/race-map-v1.generated.js';
import { SCHEMA as RUN } from '../schemas/run-v10.generated.js';
import { SCHEMA as RUNS } from '../schemas/runs-v10.generated.js';
import { SCHEMA as TCP } from '../schemas/tcp-v4.generated.js';
import { COMPARE_STEPS } from './compare.js';
import { DRIVE_STEPS } from './drive.js';
import { obj } from './edit.js';
import { RUN_STEPS } from './run.js';
import { RUNS_STEPS } from './runs.js';
import type { Step } from './step.js';
import { TCP_STEPS } from './tcp.js';

// One decoder for every kind of result file: the version the file names is decoded against the
// schema of that version, brought one version forward by its step, and so on until the current
// version, which is decoded against the schema the record types make today. A version with no
// step, or data that is not what its version holds, is refused by name; nothing is guessed.

export interface Kind {
  /** The version this build writes. */
  readonly current: number;
  readonly schema: Schema;
  /** One per older version it reads, oldest first, each from the version before the next. */
  readonly steps: readonly Step[];
}

const versionOf = (schema: string) => Number(schema.split('@')[1]);

export const KINDS: Readonly<Record<string, Kind>> = {
  run: { current: versionOf(RUN_SCHEMA), schema: RUN, steps: RUN_STEPS },
  runs: { current: versionOf(RUNS_SCHEMA), schema: RUNS, steps: RUNS_STEPS },
  drive: { current: versionOf(DRIVER_SCHEMA), schema: DRIVE, steps: DRIVE_STEPS },
  tcp: { current: versionOf(TCP_SCHEMA), schema: TCP, steps: TCP_STEPS },
  compare: { current: versionOf(COMPARE_SCHEMA), schema: COMPARE, steps: COMPARE_STEPS },
  'race-map': { current: versionOf(RACE_MAP_SCHEMA), schema: RACE_MAP, steps: [] },
};

/** The schema a runs file's variants are read with: the run schema of the same version. */
function runSchemaAt(version: number): Schema {
  if (version === KINDS.run?.current) return RUN;
  return RUN_STEPS.find((s) => s.from === version)?.schema ?? 'any';
}

export type Decoded =
  | { ok: true; data: unknown }
  | { ok: false; why: 'notOurs' | 'version'; readable: readonly string[] }
  | { ok: false; why: 'shape'; version: string; problems: readonly string[] };

const NAME = /^keepalive-lab\/([a-z-]+)@(\d+)$/;

/** Every version of each kind this build reads, by name: keepalive-lab/run@2 … run@8. */
export function readableVersions(kind: string): string[] {
  const k = KINDS[kind];
  if (!k) return [];
  return [...k.steps.map((s) => s.from), k.current].map((v) => `keepalive-lab/${kind}@${v}`);
}

/** `data` decoded to the current version of its kind, or why not. */
export function decode(data: unknown): Decoded {
  const m = NAME.exec(String(obj(data).schema));
  const kind = m ? KINDS[m[1] as string] : undefined;
  if (!m || !kind) return { ok: false, why: 'notOurs', readable: [] };
  const name = m[1] as string;
  let d = obj(data);
  for (let v = Number(m[2]); ; v++) {
    const version = `keepalive-lab/${name}@${v}`;
    const step = kind.steps.find((s) => s.from === v);
    if (v !== kind.current && !step) {
      return { ok: false, why: 'version', readable: readableVersions(name) };
    }
    const schema = step ? step.schema : kind.schema;
    const problems = schemaProblems(d, schema, { run: runSchemaAt(v) });
    if (problems.length > 0) return { ok: false, why: 'shape', version, problems };
    if (!step) return { ok: true, data: d };
    d = { ...step.up(d), schema: `keepalive-lab/${name}@${v + 1}` };
  }
}
