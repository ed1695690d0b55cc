import type { RunResult, RunsResult } from '../record/run.js';
import { markdown } from '../text.js';
import { auditText } from './audit-text.js';
import { runHttp2Line } from './http2-line.js';
import { ROW_HEADINGS, runLabel, runRow } from './row.js';
import { searchTable, sweepTable } from './sweep.js';

// A markdown summary for $GITHUB_STEP_SUMMARY or a pull request. Pure.

export function runsMarkdown(name: string, runs: RunResult[]): string {
  const out = [`## keepalive-lab: ${markdown(name)}`, ''];
  const at = (h: (typeof ROW_HEADINGS)[number]) => ROW_HEADINGS.indexOf(h);
  const left = new Set([at('run'), at('holder'), at('close race'), at('thresholds')]);
  out.push(
    `| ${ROW_HEADINGS.join(' | ')} |`,
    `|${ROW_HEADINGS.map((_, i) => (left.has(i) ? '---' : '---:')).join('|')}|`,
  );
  for (const r of runs) {
    const cells = runRow(r).map(markdown);
    cells[at('holder')] = `**${cells[at('holder')]}**`;
    const t = cells[at('thresholds')];
    cells[at('thresholds')] = t === 'ok' ? '✅' : t === 'FAIL' ? '❌' : '–';
    out.push(`| ${cells.join(' | ')} |`);
  }
  for (const r of runs) {
    const c = r.analysis.closes;
    const h2 = runHttp2Line(r);
    const notes = [
      ...(r.environment.kernel.degraded ? [`kernel view: ${r.environment.kernel.degraded}`] : []),
      ...(h2 ? [`HTTP/2: ${h2}`] : []),
      ...r.analysis.timeWait.explanation,
      ...(c.race ? [`close race: ${c.race.cause}`] : []),
      ...c.findings,
      ...r.faults.map(
        (f) => `fault: ${f.fault}${f.dropped === null ? '' : `, ${f.dropped} segments dropped`}`,
      ),
      ...(r.analysis.wire ?? []).map((w) => `wire: ${w.message}`),
      ...r.analysis.anomalies.map((a) => a.message),
      // The driver's own delay, when it may be a material part of the latency measured.
      ...(r.analysis.latency.driver?.material ? [r.analysis.latency.driver.message] : []),
      ...(r.analysis.legs
        ? [
            `front leg: ${r.analysis.legs.front.message}`,
            `back leg: ${r.analysis.legs.back.message}`,
          ]
        : []),
      ...(r.analysis.capacity.hosts ?? []).map(
        (h) =>
          `client host ${h.host} (shard ${h.shard}): ${(h.share * 100).toFixed(0)}% of the closes, ${h.clientCloseRate.toFixed(1)}/s against ${h.budgetPerSecond?.toFixed(0) ?? '?'}/s${h.secondsToExhaustion !== null ? `, ports out in ~${h.secondsToExhaustion.toFixed(1)} s` : ''}`,
      ),
    ];
    const failed = r.thresholds.filter((t) => !t.ok);
    const audit = r.audit && r.audit.failed > 0 ? `❌ audit: ${auditText(r.audit)}` : null;
    if (notes.length === 0 && failed.length === 0 && !audit) continue;
    out.push('', `### ${markdown(runLabel(r))}`);
    if (audit) out.push(`- ${markdown(audit)}`);
    for (const w of notes) out.push(`- ${markdown(w)}`);
    for (const t of failed) {
      out.push(`- ❌ ${markdown(t.expr)} (actual ${markdown(String(t.actual ?? t.reason))})`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A markdown table of text cells, each made inert. */
export const mdTable = (head: string[], rows: string[][]) =>
  [
    `| ${head.map(markdown).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(markdown).join(' | ')} |`),
  ].join('\n');

/** A sweep's table of points and a search's walk, after the runs' summary. */
export function curvesMarkdown(file: RunsResult): string {
  const out: string[] = [];
  if (file.sweep) {
    const { head, rows } = sweepTable(file);
    const reps = file.repeats > 1 ? ` (${file.repeats} runs per point: median, min–max)` : '';
    out.push(
      '',
      `### Sweep of ${markdown(file.sweep.paths.join(' × '))}${reps}`,
      '',
      mdTable(head, rows),
    );
  }
  if (file.search) {
    const { head, rows } = searchTable(file.search);
    out.push(
      '',
      `### Rate search: ${markdown(file.search.verdict)}`,
      '',
      markdown(file.search.message),
      '',
      mdTable(head, rows),
    );
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
