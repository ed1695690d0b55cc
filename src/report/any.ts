import { COMPARE_SCHEMA, type CompareResult } from '../record/compare.js';
import { DRIVER_SCHEMA, type DriverResult } from '../record/driver.js';
import { RACE_MAP_SCHEMA, type RaceMapResult } from '../record/race-map.js';
import type { RunFile } from '../record/run.js';
import { markdown as md } from '../text.js';
import { compareMarkdown } from './compare-markdown.js';
import { compareText } from './compare-text.js';
import { driveText } from './drive-text.js';
import { raceMapHeader, raceMapTable, raceMapText } from './race-map-text.js';
import { curvesMarkdown, mdTable, runsMarkdown } from './run-markdown.js';
import { comparisonText, planStopText, runText } from './run-text.js';
import { searchText, sweepText } from './sweep.js';

// Any result the product writes, as the text `run` (or `compare`, `drive`, `race-map`) printed
// when it was made, or as markdown: what `keepalive-lab report FILE` shows. Pure.

export type AnyResult = RunFile | CompareResult | RaceMapResult | DriverResult;

export function resultText(r: AnyResult): string {
  if (r.schema === COMPARE_SCHEMA) return compareText(r as CompareResult);
  if (r.schema === RACE_MAP_SCHEMA) return raceMapText(r as RaceMapResult);
  if (r.schema === DRIVER_SCHEMA) return driveText(r as DriverResult);
  const file = r as RunFile;
  if (!('variants' in file)) return runText(file);
  const out = file.variants.map(runText);
  if (file.variants.length > 1) out.push(comparisonText(file.variants));
  if (file.sweep) out.push(sweepText(file));
  if (file.search) out.push(searchText(file.search));
  const stopped = planStopText(file);
  if (stopped) out.push(stopped);
  return out.join('\n\n');
}

export function resultMarkdown(r: AnyResult): string {
  if (r.schema === COMPARE_SCHEMA) return compareMarkdown(r as CompareResult);
  if (r.schema === RACE_MAP_SCHEMA) {
    const m = r as RaceMapResult;
    const { head, rows } = raceMapTable(m);
    return `${[
      `## keepalive-lab race map: ${md(m.name)}`,
      '',
      ...raceMapHeader(m).map((l) => `- ${md(l)}`),
      '',
      mdTable(head, rows),
    ].join('\n')}\n`;
  }
  if (r.schema === DRIVER_SCHEMA) {
    return `## keepalive-lab drive: ${md((r as DriverResult).url)}\n\n\`\`\`\n${driveText(r as DriverResult).replace(/`/g, "'")}\n\`\`\`\n`;
  }
  const file = r as RunFile;
  return (
    runsMarkdown(file.name, 'variants' in file ? file.variants : [file]) +
    ('variants' in file ? curvesMarkdown(file) : '')
  );
}

/** The value at a dot path (`summary.latency`, `analysis.timeWait`), for each run of a variants file. */
export function selectPath(r: AnyResult, path: string): unknown {
  const at = (v: unknown) =>
    path
      .split('.')
      .filter(Boolean)
      .reduce<unknown>(
        // Own fields only: `__proto__` or `toString` name no part of a result.
        (o, k) =>
          o && typeof o === 'object' && Object.hasOwn(o, k)
            ? (o as Record<string, unknown>)[k]
            : undefined,
        v,
      );
  const file = r as RunFile;
  if ('variants' in file && at(file) === undefined) {
    return file.variants.map((v) => ({
      variant: v.variant,
      repeat: v.repeat,
      value: at(v) ?? null,
    }));
  }
  return at(r) ?? null;
}
