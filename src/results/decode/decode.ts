import { COMPARE_SCHEMA } from '../../record/compare.js';
import { DRIVER_SCHEMA } from '../../record/driver.js';
import { RACE_MAP_SCHEMA } from '../../record/race-map.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../../record/run.js';
import { TCP_SCHEMA } from '../../record/tcp.js';
import type { Schema } from '../schema.js';
import { schemaProblems } from '../schema.js';
import { SCHEMAS } from '../schemas/index.generated.js';
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
  /** One per older version it reads, oldest first, each from the version before the next. */
  readonly steps: readonly Step[];
}

const versionOf = (schema: string) => Number(schema.split('@')[1]);

export const KINDS: Readonly<Record<string, Kind>> = {
  run: { current: versionOf(RUN_SCHEMA), steps: RUN_STEPS },
  runs: { current: versionOf(RUNS_SCHEMA), steps: RUNS_STEPS },
  drive: { current: versionOf(DRIVER_SCHEMA), steps: DRIVE_STEPS },
  tcp: { current: versionOf(TCP_SCHEMA), steps: TCP_STEPS },
  compare: { current: versionOf(COMPARE_SCHEMA), steps: COMPARE_STEPS },
  'race-map': { current: versionOf(RACE_MAP_SCHEMA), steps: [] },
};

/** The schema of a version (schemas/index.generated.ts); a runs file's variants: run@N's. */
const schemaOf = async (kind: string, version: number): Promise<Schema | undefined> =>
  SCHEMAS[`${kind}@${version}`]?.();

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
export async function decode(data: unknown): Promise<Decoded> {
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
    const schema = await schemaOf(name, v);
    if (!schema) throw new Error(`no schema for ${version}: run npm run shape`);
    const problems = schemaProblems(d, schema, { run: (await schemaOf('run', v)) ?? 'any' });
    if (problems.length > 0) return { ok: false, why: 'shape', version, problems };
    if (!step) return { ok: true, data: d };
    d = { ...step.up(d), schema: `keepalive-lab/${name}@${v + 1}` };
  }
}
