import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// The GitHub Action: its metadata is what GitHub needs (every input documented and used, a
// composite that builds this repository and runs the script), and the script it runs does its job
// when run here with the variables a runner sets: baseline or none, summary, outputs, exit codes.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/action.mjs');

interface ActionYaml {
  name: string;
  description: string;
  inputs: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description?: string; value: string }>;
  runs: { using: string; steps: { uses?: string; run?: string; id?: string; env?: object }[] };
}

const text = readFileSync(join(ROOT, 'action.yml'), 'utf8');
const ACTION = parse(text) as ActionYaml;

describe('action.yml', () => {
  it('documents every input and output, and uses every input it declares', () => {
    assert.ok(ACTION.name && ACTION.description);
    assert.ok(ACTION.inputs.scenario?.required);
    for (const [name, spec] of Object.entries(ACTION.inputs)) {
      assert.ok(spec.description && spec.description.length > 20, `input ${name} is documented`);
      assert.ok(text.includes(`inputs.${name} }}`), `input ${name} is used`);
    }
    for (const name of [...text.matchAll(/inputs\.([\w-]+)/g)].map((m) => m[1] as string)) {
      assert.ok(name in ACTION.inputs, `inputs.${name} is declared`);
    }
    const script = readFileSync(SCRIPT, 'utf8');
    for (const [name, spec] of Object.entries(ACTION.outputs)) {
      assert.ok(spec.description, `output ${name} is documented`);
      assert.equal(spec.value, `\${{ steps.bench.outputs.${name} }}`);
      assert.ok(script.includes(`output('${name}'`), `the script sets output ${name}`);
    }
  });

  it('is a composite that builds this repository and runs scripts/action.mjs with the inputs', () => {
    assert.equal(ACTION.runs.using, 'composite');
    const runs = ACTION.runs.steps.map((s) => s.run ?? '').join('\n');
    assert.match(runs, /npm ci .*&& npm run build/);
    const bench = ACTION.runs.steps.find((s) => s.id === 'bench');
    assert.equal(bench?.run, 'node "$GITHUB_ACTION_PATH/scripts/action.mjs"');
    for (const name of Object.keys(ACTION.inputs).filter(
      (n) => !['node-version', 'github-token'].includes(n),
    )) {
      const key = `INPUT_${name.toUpperCase().replace(/-/g, '_')}`;
      assert.ok(bench?.env && key in bench.env, `${key} is passed to the script`);
      assert.ok(
        readFileSync(SCRIPT, 'utf8').includes(`'${key.slice(6)}'`),
        `the script reads ${key}`,
      );
    }
    assert.ok(ACTION.runs.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@')));
  });
});

describe('the Action, run as a runner would run it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kal-action-'));
  const scenario = (name: string, extra = '') => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `name: action\nclient: { connections: 4 }\nload: { duration: 2s, rate: 400 }\nsampler: { interval: 500ms, tail: 1s }\n${extra}`,
    );
    return file;
  };

  /**
   * The Action's run step as the runner runs it: its command in bash, its `env:` with the
   * expressions filled in from the inputs (or their defaults) and an empty github context (not in
   * a workflow), plus the variables the runner sets. What it wrote to the summary and outputs.
   */
  function action(inputs: Record<string, string>, name: string) {
    const runner = join(dir, name);
    const summary = `${runner}.summary.md`;
    const outputs = `${runner}.outputs`;
    writeFileSync(summary, '');
    writeFileSync(outputs, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_ACTION_PATH: ROOT,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_OUTPUT: outputs,
      RUNNER_TEMP: runner,
      GITHUB_RUN_ID: '1',
    };
    const step = ACTION.runs.steps.find((s) => s.id === 'bench');
    const fill = (value: string): string =>
      value.replace(/\$\{\{\s*([\w.-]+)\s*\}\}/g, (_, expr: string) => {
        if (!expr.startsWith('inputs.')) return '';
        const input = expr.slice('inputs.'.length);
        return inputs[input] ?? fill(String(ACTION.inputs[input]?.default ?? ''));
      });
    for (const [k, v] of Object.entries(step?.env ?? {})) env[k] = fill(String(v));
    const r = spawnSync('bash', ['-c', step?.run ?? 'false'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 90_000,
    });
    const out = Object.fromEntries(
      readFileSync(outputs, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
    return {
      code: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      summary: readFileSync(summary, 'utf8'),
      out,
    };
  }

  let baseline = '';

  it('without a baseline: runs, records the result for upload, and says why there is none', () => {
    const r = action({ scenario: scenario('base') }, 'first');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.out.verdict, 'none');
    assert.ok(r.out.result && existsSync(r.out.result), 'the result to upload');
    assert.match(
      r.stdout,
      /::notice::no baseline to compare with: not running in a GitHub workflow/,
    );
    assert.match(r.summary, /no baseline yet/);
    assert.match(r.summary, /<details><summary>This run<\/summary>/);
    baseline = r.out.result as string;
  });

  it('with a baseline and a regression: the comparison in the summary, the job failed (exit 3)', () => {
    const limited = scenario('limited', 'target: { maxRequests: 10, maxRequestsMode: close }\n');
    const r = action({ scenario: limited, baseline }, 'regressed');
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(r.out.verdict, 'worse');
    assert.ok(r.out.comparison && existsSync(r.out.comparison));
    assert.match(r.summary, /^## keepalive-lab compare: ❌ worse/);
    assert.match(r.summary, /\| connectionsPerRequest \|/);
    assert.match(r.stdout, /::error::keepalive-lab: the comparison found a regression/);

    // fail-on-regression false: the same regression is a warning, and the step passes.
    const warned = action({ scenario: limited, baseline, 'fail-on-regression': 'false' }, 'warned');
    assert.equal(warned.code, 0, warned.stdout + warned.stderr);
    assert.equal(warned.out.verdict, 'worse');
    assert.match(warned.stdout, /::warning::keepalive-lab: the comparison found a regression/);
  });

  it('bad inputs: exit 2 naming each, before anything runs', () => {
    const r = action(
      { scenario: join(dir, 'nope.yaml'), repeat: 'two', 'fail-on-regression': 'maybe' },
      'bad',
    );
    assert.equal(r.code, 2);
    assert.match(r.stdout, /::error::bad inputs:.*scenario: .*nope\.yaml does not exist/);
    assert.match(r.stdout, /repeat: "two" is not a count of runs/);
    assert.match(r.stdout, /fail-on-regression: "maybe" is not true or false/);
    assert.equal(r.out.result, undefined);

    // A baseline the user named that cannot be compared (another scenario) fails the step.
    const other = join(dir, 'other.json');
    writeFileSync(
      other,
      JSON.stringify({ ...JSON.parse(readFileSync(baseline, 'utf8')), name: 'x' }),
    );
    const mismatch = action({ scenario: scenario('again'), baseline: other }, 'mismatch');
    assert.equal(mismatch.code, 2, mismatch.stdout);
    assert.match(mismatch.stdout, /::error::the baseline .*other\.json cannot be compared/);
  });
});
