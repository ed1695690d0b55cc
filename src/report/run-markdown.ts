import type { RunResult } from '../record/run.js';

// A markdown summary for $GITHUB_STEP_SUMMARY or a pull request. Pure.

const n = (v: number | null | undefined, d = 1) =>
  v == null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(d);

export function runsMarkdown(name: string, runs: RunResult[]): string {
  const out = [`## keepalive-lab: ${name}`, ''];
  out.push(
    '| run | req/s | p99 ms | errors | TIME_WAIT client | TIME_WAIT server | holder | race errors | thresholds |',
    '|---|---:|---:|---:|---:|---:|---|---:|---|',
  );
  for (const r of runs) {
    out.push(
      `| ${r.variant ?? r.name}${r.partial ? ' (partial)' : ''} | ${n(r.summary.throughput.rps, 0)} | ${n(r.summary.latency.p99, 2)} | ${r.summary.errors.total} | ${r.tcp?.client.timeWait.max ?? '–'} | ${r.tcp?.server.timeWait.max ?? '–'} | **${r.analysis.timeWait.withheld ? 'no verdict' : (r.analysis.timeWait.holder ?? 'not measured')}** | ${r.analysis.race.errorsOnReused ?? '–'} | ${r.thresholds.length === 0 ? '–' : r.thresholds.every((t) => t.ok) ? '✅' : '❌'} |`,
    );
  }
  for (const r of runs) {
    const why = r.analysis.timeWait.explanation;
    const notes = [...why, ...r.analysis.anomalies.map((a) => a.message)];
    const failed = r.thresholds.filter((t) => !t.ok);
    if (notes.length === 0 && failed.length === 0) continue;
    out.push('', `### ${r.variant ?? r.name}`);
    for (const w of notes) out.push(`- ${w}`);
    for (const t of failed) out.push(`- ❌ \`${t.expr}\` (actual ${t.actual ?? t.reason})`);
  }
  return `${out.join('\n')}\n`;
}
