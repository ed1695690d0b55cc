import type { CompareResult, MetricComparison } from '../record/compare.js';
import { markdown } from '../text.js';
import { METRIC_HEADINGS, metricCells, runs } from './compare-text.js';

// `compare` as markdown for a pull request comment or the job summary: the verdict first, then
// only the metrics that moved (worse, then better), then the rest folded: those the noise left
// undecided, and those the same. Pure.

const MARK: Record<string, string> = { worse: '❌', better: '✅', same: '➖', inconclusive: '❔' };

function rows(metrics: readonly MetricComparison[]): string[] {
  return [
    `| ${METRIC_HEADINGS.join(' | ')} |`,
    `|---|---:|---:|---:|---:|---|---|`,
    ...metrics.map((m) => {
      const cells = metricCells(m).map(markdown);
      cells[6] = `${MARK[m.verdict]} ${m.verdict}`;
      return `| ${cells.join(' | ')} |`;
    }),
  ];
}

function folded(summary: string, metrics: readonly MetricComparison[]): string[] {
  return metrics.length === 0
    ? []
    : ['', `<details><summary>${summary}</summary>`, '', ...rows(metrics), '', '</details>'];
}

function section(metrics: readonly MetricComparison[]): string[] {
  const only = (v: string) => metrics.filter((m) => m.verdict === v);
  const moved = [...only('worse'), ...only('better')];
  const undecided = only('inconclusive');
  const same = only('same');
  return [
    ...(moved.length > 0 ? rows(moved) : ['Nothing moved beyond its tolerance.']),
    ...folded(
      `${undecided.length} inconclusive: the noise was too wide to tell (repeats narrow it)`,
      undecided,
    ),
    ...folded(`${same.length} the same, within tolerance`, same),
  ];
}

export function compareMarkdown(r: CompareResult): string {
  const out = [
    `## keepalive-lab compare: ${MARK[r.verdict]} ${r.verdict} — ${markdown(r.scenario)}`,
    '',
    `Baseline ${markdown(r.baseline.file)} (${runs(r.baseline.runs)}) against current ${markdown(r.current.file)} (${runs(r.current.runs)}). ${markdown(r.notes.join(' '))}`,
    '',
  ];
  if (r.metrics) out.push(...section(r.metrics));
  for (const v of r.variants ?? [])
    out.push(
      '',
      `### ${markdown(v.name)}: ${MARK[v.verdict]} ${v.verdict}`,
      '',
      ...section(v.metrics),
    );
  return `${out.join('\n')}\n`;
}
