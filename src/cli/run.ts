import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadScenario } from '../config/scenario-resolve.js';
import { EXIT, LabError } from '../errors.js';
import { runsMarkdown } from '../report/run-markdown.js';
import { comparisonText, runText } from '../report/run-text.js';
import { writeJsonAtomic } from '../report/write-json.js';
import type { Progress } from '../run/orchestrate.js';
import type { RunResult, RunsResult } from '../run/result.js';

// `keepalive-lab run SCENARIO`: the main job. Runs the scenario (each variant in turn), prints the
// report, writes the JSON result (also when interrupted, marked partial) and a markdown summary,
// and exits 3 when a threshold is breached.

function progressLine(live: boolean) {
  let last = '';
  return {
    show(name: string, p: Progress) {
      const tw = p.timeWait
        ? `TIME_WAIT client ${p.timeWait.client} server ${p.timeWait.server}`
        : '';
      const load =
        p.rps !== null
          ? `${p.rps.toFixed(0)} req/s  p99 ${p.p99?.toFixed(2)} ms  errors ${p.errors}  `
          : '';
      last = `[${name}] ${(p.t / 1000).toFixed(1)}s ${p.phase.padEnd(6)} ${load}${tw}`;
      process.stderr.write(live ? `\r\x1b[K${last}` : `${last}\n`);
    },
    done() {
      if (live && last) process.stderr.write('\n');
      last = '';
    },
  };
}

export function runCommand(): Command {
  return new Command('run')
    .description('run a scenario end to end: target, load, TCP sampling, analysis, report')
    .argument('<scenario>', 'scenario file (YAML or JSON), e.g. configs/demo.yaml')
    .option('--json <file>', 'write the JSON result here')
    .option(
      '--out <dir>',
      'directory for result files (default: the scenario\'s output.dir, "results")',
    )
    .option('--markdown <file>', 'also write a markdown summary here')
    .action(async (file: string, opts: { json?: string; out?: string; markdown?: string }) => {
      const { scenario, runs } = await loadScenario(file);
      const { runOne } = await import('../run/orchestrate.js');
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const live = process.stderr.isTTY === true && !process.env.CI && !process.env.NO_COLOR;
      const progress = progressLine(live);
      const startedAt = new Date();
      const results: RunResult[] = [];
      try {
        for (const spec of runs) {
          if (controller.signal.aborted) break;
          const r = await runOne(spec, {
            signal: controller.signal,
            onProgress: (p) => progress.show(spec.name, p),
          });
          progress.done();
          results.push(r);
          process.stdout.write(`${runText(r)}\n\n`);
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        progress.done();
      }
      if (results.length > 1) process.stdout.write(`${comparisonText(results)}\n`);

      const partial = controller.signal.aborted || results.some((r) => r.partial);
      const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
      const jsonPath =
        opts.json ??
        scenario.output.json ??
        join(opts.out ?? scenario.output.dir, `${scenario.name}-${stamp}.json`);
      const payload: RunResult | RunsResult =
        scenario.variants.length === 0 && results.length === 1
          ? (results[0] as RunResult)
          : {
              schema: 'keepalive-lab/runs@1',
              name: scenario.name,
              startedAt: startedAt.toISOString(),
              partial,
              variants: results,
            };
      if (results.length > 0) {
        await writeJsonAtomic(jsonPath, payload);
        process.stderr.write(`result: ${jsonPath}${partial ? ' (partial)' : ''}\n`);
        const md = runsMarkdown(scenario.name, results);
        const mdPath = opts.markdown ?? scenario.output.markdown;
        if (mdPath) await writeFile(mdPath, md);
        if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, md);
      }
      if (partial) {
        process.exitCode = EXIT.interrupted;
        return;
      }
      const dead = results.find(
        (r) => r.summary.requests.completed === 0 && r.summary.errors.total > 0,
      );
      if (dead) {
        throw new LabError('KAL_TARGET_UNREACHABLE', `every request to ${dead.target.url} failed`, {
          problems: [{ path: 'target.url', message: `see the errors in ${jsonPath}` }],
        });
      }
      if (results.some((r) => r.thresholds.some((t) => !t.ok))) process.exitCode = EXIT.thresholds;
    });
}
