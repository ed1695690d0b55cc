import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The shipped Grafana dashboards as the tests read them, the rules of Grafana's dashboard linter
// that apply to them, and their expressions as Prometheus gets them.

/** Grafana's reference to the dashboard's datasource variable. */
const DS_VAR = ['$', '{datasource}'].join('');

export interface Panel {
  title?: string;
  description?: string;
  datasource?: { uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { expr: string; datasource?: { uid?: string } }[];
}
export interface Dashboard {
  uid: string;
  title: string;
  editable: boolean;
  templating: { list: Record<string, unknown>[] };
  panels: Panel[];
}

export const DASHBOARDS = readdirSync('dashboards')
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    d: JSON.parse(readFileSync(join('dashboards', f), 'utf8')) as Dashboard,
  }));

/** A panel's expression as Prometheus would get it: Grafana's variables substituted. */
export function substitute(expr: string, vars: Record<string, string> = {}): string {
  return expr
    .replaceAll('$__rate_interval', vars.__rate_interval ?? '1m')
    .replaceAll('$__interval', vars.__interval ?? '15s')
    .replace(/\$(\w+)/g, (_, name: string) => vars[name] ?? '.+');
}

/** The rules of Grafana's dashboard-linter that apply to these dashboards; each problem in words. */
export function lint(d: Dashboard): string[] {
  const problems: string[] = [];
  const vars = d.templating.list;
  const ds = vars.find((v) => v.name === 'datasource');
  if (ds?.type !== 'datasource' || ds.query !== 'prometheus')
    problems.push(
      'template-datasource-rule: a variable "datasource" of type datasource, prometheus',
    );
  for (const name of ['job', 'instance']) {
    const v = vars.find((x) => x.name === name);
    if (!v) problems.push(`template-${name}-rule: no ${name} variable`);
    else {
      if (v.type !== 'query') problems.push(`template-${name}-rule: ${name} must be a query`);
      if (v.multi !== true || v.includeAll !== true)
        problems.push(`template-${name}-rule: ${name} multi with All`);
      if (v.allValue !== '.+') problems.push(`template-${name}-rule: ${name} allValue ".+"`);
      if ((v.datasource as { uid?: string })?.uid !== DS_VAR)
        problems.push(`template-${name}-rule: ${name} uses \${datasource}`);
    }
  }
  if (d.editable !== false) problems.push('dashboard should not be editable when provisioned');
  for (const p of d.panels) {
    const at = `panel "${p.title ?? '?'}"`;
    if (!p.title) problems.push(`panel-title-description-rule: ${at} has no title`);
    if (!p.description) problems.push(`panel-title-description-rule: ${at} has no description`);
    if (p.datasource?.uid !== DS_VAR) problems.push(`panel-datasource-rule: ${at}`);
    if (!p.fieldConfig?.defaults?.unit) problems.push(`panel-units-rule: ${at} has no unit`);
    for (const t of p.targets ?? []) {
      if (t.datasource && t.datasource.uid !== DS_VAR)
        problems.push(`panel-datasource-rule: ${at} target`);
      for (const call of t.expr.matchAll(/\b(rate|irate|increase)\(([^[]*)\[([^\]]+)\]/g)) {
        if (call[3] !== '$__rate_interval')
          problems.push(`panel-rate-interval-rule: ${at}: ${call[1]} over [${call[3]}]`);
      }
      if (/\b(rate|increase)\(/.test(t.expr) && !/_total\b|_bucket\b|_seconds_total\b/.test(t.expr))
        problems.push(`panel-counter-rule: ${at}: rate of something not a counter`);
      for (const sel of t.expr.matchAll(/\b(keepalive_lab_\w+)\{([^}]*)\}/g)) {
        const labels = sel[2] ?? '';
        if (!labels.includes('job=~"$job"')) problems.push(`target-job-rule: ${at}: ${sel[1]}`);
        if (!labels.includes('instance=~"$instance"'))
          problems.push(`target-instance-rule: ${at}: ${sel[1]}`);
        if (/instance=~?"[^$]/.test(labels)) problems.push(`hard-coded instance: ${at}`);
      }
      if (/\bkeepalive_lab_\w+(?![\w{])/.test(t.expr.replace(/\{[^}]*\}/g, '{}')))
        problems.push(`target-job-rule: ${at}: a selector without labels`);
    }
  }
  return problems;
}
