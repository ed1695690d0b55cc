// The GitHub Action's one step (action.yml): find the baseline, run the scenario, compare, write the
// job summary and the step's outputs, and end the step as the inputs say. It calls the CLI built
// from this repository; the test (test/action.test.ts) runs this same file with the variables the
// runner would set. Exit: 0, or 3 for a regression (or breached thresholds) when it fails the job,
// 2 for bad inputs, 1 for a run that failed.
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const env = process.env;
const input = (name, fallback = '') => (env[`INPUT_${name}`] ?? '').trim() || fallback;
const cli = join(env.GITHUB_ACTION_PATH ?? join(import.meta.dirname, '..'), 'dist/src/cli/main.js');
const dir = join(env.RUNNER_TEMP ?? tmpdir(), `keepalive-lab-${env.GITHUB_RUN_ID ?? process.pid}`);

/** A workflow command: an annotation on the run's page. */
const annotate = (level, message) => console.log(`::${level}::${message.replace(/\n/g, '%0A')}`);
const summary = (text) => env.GITHUB_STEP_SUMMARY && appendFileSync(env.GITHUB_STEP_SUMMARY, text);
const output = (name, value) =>
  env.GITHUB_OUTPUT && appendFileSync(env.GITHUB_OUTPUT, `${name}=${value}\n`);

function fail(code, message) {
  annotate('error', message);
  summary(`## keepalive-lab: failed\n\n${message}\n`);
  process.exit(code);
}

const scenario = input('SCENARIO');
const repeat = input('REPEAT', '1');
const failOnRegression = input('FAIL_ON_REGRESSION', 'true');
const useSudo = input('SUDO', 'true');
const artifact = input('ARTIFACT', 'keepalive-lab-result');
const tolerances = input('TOLERANCE').split(/\s+/).filter(Boolean);
const problems = [
  !scenario && 'scenario: give the scenario file to run',
  scenario &&
    !existsSync(scenario) &&
    `scenario: ${scenario} does not exist (relative to ${process.cwd()})`,
  !/^[1-9]\d*$/.test(repeat) && `repeat: "${repeat}" is not a count of runs`,
  !['true', 'false'].includes(failOnRegression) &&
    `fail-on-regression: "${failOnRegression}" is not true or false`,
  !['true', 'false'].includes(useSudo) && `sudo: "${useSudo}" is not true or false`,
].filter(Boolean);
if (problems.length > 0) fail(2, `bad inputs:\n${problems.join('\n')}`);
mkdirSync(dir, { recursive: true });

/** The CLI, its output passed through to the log. */
function kal(args, opts = {}) {
  const root = opts.root && process.getuid?.() !== 0;
  const [cmd, argv] = root
    ? ['sudo', ['-n', '-E', process.execPath, cli, ...args]]
    : [process.execPath, [cli, ...args]];
  // The summary is this script's to lay out (the verdict first), not the run's own summary output.
  const { GITHUB_STEP_SUMMARY: _, ...childEnv } = env;
  return spawnSync(cmd, argv, { stdio: 'inherit', env: childEnv }).status ?? 1;
}

/** The baseline: the given file, or this workflow's last successful run's artifact on the default branch. */
function findBaseline() {
  const given = input('BASELINE');
  if (given) {
    if (!existsSync(given)) fail(2, `baseline: ${given} does not exist`);
    return { file: given, given: true };
  }
  const repo = env.GITHUB_REPOSITORY;
  // owner/repo/.github/workflows/bench.yml@refs/heads/main → bench.yml
  const workflow = /\/\.github\/workflows\/([^@]+)@/.exec(env.GITHUB_WORKFLOW_REF ?? '')?.[1];
  const branch = env.DEFAULT_BRANCH;
  if (!repo || !workflow || !branch) {
    return { why: 'not running in a GitHub workflow (no repository, workflow or default branch)' };
  }
  const gh = (args) => spawnSync('gh', args, { encoding: 'utf8' });
  const list = gh([
    ...['run', 'list', '--repo', repo, '--workflow', workflow, '--branch', branch],
    ...['--status', 'success', '--limit', '1', '--json', 'databaseId', '--jq', '.[0].databaseId'],
  ]);
  if (list.error) return { why: `gh is not available (${list.error.code ?? list.error.message})` };
  const id = list.stdout.trim();
  if (list.status !== 0 || !id) {
    return {
      why: `no successful run of ${workflow} on ${branch} yet${list.stderr ? ` (${list.stderr.trim()})` : ''}`,
    };
  }
  const into = join(dir, 'baseline');
  const got = gh(['run', 'download', id, '--repo', repo, '--name', artifact, '--dir', into]);
  const file =
    got.status === 0 && existsSync(into)
      ? readdirSync(into).find((f) => f.endsWith('.json'))
      : undefined;
  if (!file) {
    return {
      why: `run ${id} on ${branch} has no artifact "${artifact}"${got.stderr ? ` (${got.stderr.trim()})` : ''}`,
    };
  }
  return { file: join(into, file), given: false, from: `run ${id} on ${branch}` };
}

const baseline = findBaseline();
const result = join(dir, 'result.json');
const runMarkdown = join(dir, 'run.md');
const sudo = useSudo === 'true' && spawnSync('sudo', ['-n', 'true']).status === 0;
const ran = kal(
  ['run', resolve(scenario), '--json', result, '--markdown', runMarkdown, '--repeat', repeat],
  {
    root: sudo,
  },
);
if (sudo && existsSync(result)) {
  spawnSync('sudo', [
    '-n',
    'chown',
    `${process.getuid()}:${process.getgid()}`,
    result,
    runMarkdown,
  ]);
}
if (existsSync(result)) {
  chmodSync(result, 0o644);
  output('result', result);
}
// 3 is the scenario's own thresholds breached: a regression too, reported after the comparison.
if (ran !== 0 && ran !== 3)
  fail(ran, `keepalive-lab run ${scenario} failed (exit ${ran}); its log is above`);
const details = existsSync(runMarkdown)
  ? `\n<details><summary>This run</summary>\n\n${readFileSync(runMarkdown, 'utf8')}\n</details>\n`
  : '';

let verdict = 'none';
if (baseline.file) {
  const comparison = join(dir, 'compare.json');
  const markdown = join(dir, 'compare.md');
  const compared = kal([
    ...['compare', baseline.file, result, '--json', comparison, '--markdown', markdown],
    ...tolerances.flatMap((t) => ['--tolerance', t]),
  ]);
  if (compared === 2) {
    // A baseline of another scenario or an older version: the user's file is an error, the last
    // run's artifact (the scenario or the tool changed since) is a fresh start.
    if (baseline.given)
      fail(
        2,
        `the baseline ${baseline.file} cannot be compared with this run; the reason is above`,
      );
    annotate(
      'warning',
      `the baseline from ${baseline.from} cannot be compared with this run (see the log); this run becomes the next baseline`,
    );
    summary(
      `## keepalive-lab: no comparable baseline\n\nThe baseline from ${baseline.from} cannot be compared with this run.\n${details}`,
    );
  } else if (compared === 0 || compared === 3) {
    verdict = JSON.parse(readFileSync(comparison, 'utf8')).verdict;
    output('comparison', comparison);
    summary(
      `${readFileSync(markdown, 'utf8')}${baseline.from ? `\nBaseline: ${baseline.from}.\n` : ''}${details}`,
    );
  } else {
    fail(compared, `keepalive-lab compare failed (exit ${compared}); its log is above`);
  }
} else {
  annotate(
    'notice',
    `no baseline to compare with: ${baseline.why}; this run's result is uploaded as "${artifact}"`,
  );
  summary(
    `## keepalive-lab: no baseline yet\n\n${baseline.why}. This run's result is uploaded as \`${artifact}\` and becomes the baseline.\n${details}`,
  );
}
output('verdict', verdict);

const regressed = [
  verdict === 'worse' && 'the comparison found a regression',
  ran === 3 && "the scenario's thresholds were breached",
].filter(Boolean);
if (regressed.length > 0) {
  const message = `keepalive-lab: ${regressed.join(', and ')} (see the job summary)`;
  if (failOnRegression === 'true') {
    annotate('error', message);
    process.exit(3);
  }
  annotate('warning', message);
}
