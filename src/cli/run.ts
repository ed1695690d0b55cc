import { Command } from 'commander';
import { loadScenario } from '../config/scenario-resolve.js';
import { checkShardable } from '../config/shards.js';
import { EXIT, LabError } from '../errors.js';
import { refuseCollisions } from '../output/collide.js';
import { runOutputPaths, selectRunOutputs } from '../output/select.js';
import { shardOf, startAtOf } from '../shard/split.js';
import { catalogueList, scenarioPath } from './catalogue.js';
import { DRY_RUN, printResolved } from './flags.js';
import { takeSignals } from './interrupt.js';

interface RunFlags {
  shard?: string;
  shards?: string;
  startAt?: string;
  repeat?: string;
  json?: string;
  out?: string;
  markdown?: string;
  html?: string;
  metricsPort?: string;
  dryRun?: boolean;
  list?: boolean;
}

// `keepalive-lab run SCENARIO`: the main job. Runs the scenario (each variant in turn) with the
// outputs the flags and the scenario ask for; Ctrl-C or SIGTERM stops it with what was measured
// written and marked partial. The exit code says how it ended (src/run/outcome.ts).

export function runCommand(): Command {
  return new Command('run')
    .description('run a scenario end to end: target, load, TCP sampling, analysis, report')
    .argument(
      '[scenario]',
      'scenario file (YAML or JSON), or a catalogue scenario by name: demo, request-limit-close…',
    )
    .option('--list', 'list the catalogue (configs/), one line each')
    .option('--json <file>', 'write the JSON result here')
    .option(
      '--out <dir>',
      'directory for result files (default: the scenario\'s output.dir, "results")',
    )
    .option('--markdown <file>', 'also write a markdown summary here')
    .option('--html <file>', 'also write the HTML report here (one self-contained file)')
    .option(
      '--repeat <n>',
      'run the scenario (each variant) n times, interleaved (A B A B), every run kept; for compare',
      '1',
    )
    .option(
      '--shard <I/N>',
      'run shard I of N (0-based) of the load against target.url, as one of N client hosts; merge the results',
    )
    .option(
      '--shards <n>',
      'as --shard, the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)',
    )
    .option(
      '--start-at <time>',
      'start the load then (epoch ms or ISO time): shards start together',
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus /metrics on 127.0.0.1:<port> during the run (output.metrics in a scenario)',
    )
    .option(...DRY_RUN)
    .action(async (given: string | undefined, opts: RunFlags) => {
      if (opts.list) {
        process.stdout.write(`${catalogueList()}\n`);
        return;
      }
      if (given === undefined) {
        throw new LabError('KAL_FLAG_INVALID', 'run needs a scenario', {
          problems: [
            {
              path: 'scenario',
              message: 'give a scenario file or a catalogue name (run --list shows them)',
            },
          ],
        });
      }
      const file = scenarioPath(given);
      const metricsPort = opts.metricsPort === undefined ? undefined : Number(opts.metricsPort);
      if (
        metricsPort !== undefined &&
        (!/^\d+$/.test(opts.metricsPort ?? '') || metricsPort < 0 || metricsPort > 65535)
      ) {
        throw new LabError('KAL_FLAG_INVALID', `--metrics-port ${opts.metricsPort} is not a port`, {
          problems: [{ path: '--metrics-port', message: 'give a port number from 0 to 65535' }],
        });
      }
      const repeat = Number(opts.repeat ?? 1);
      if (!Number.isInteger(repeat) || repeat < 1 || repeat > 1000) {
        throw new LabError('KAL_FLAG_INVALID', `--repeat ${opts.repeat} is not a count of runs`, {
          problems: [{ path: '--repeat', message: 'give a whole number from 1 to 1000' }],
        });
      }
      const resolved = await loadScenario(file);
      if (resolved.raceMap) {
        throw new LabError('KAL_CONFIG_INVALID', `scenario ${file} is a race map`, {
          problems: [{ path: 'raceMap', message: `run it with: keepalive-lab race-map ${file}` }],
        });
      }
      const shard = shardOf(opts);
      const startAt = opts.startAt === undefined ? null : startAtOf(opts.startAt);
      if (shard) checkShardable(resolved, shard.count, 'hosts', repeat);
      refuseCollisions(runOutputPaths({ ...opts, metricsPort }, resolved.scenario.output), [
        { field: 'scenario', path: file },
      ]);
      if (opts.dryRun) {
        // The plan's size: every variant (sweep point) times the repeats; a search decides its
        // probes as it goes (bisection: a few dozen at most).
        const plan = { runs: resolved.search ? null : resolved.runs.length * repeat };
        return printResolved({ ...resolved, plan, ...(shard ? { shard, startAt } : {}) });
      }
      const { runScenario } = await import('../plans/scenario.js');
      const { runOutcome } = await import('../run/outcome.js');
      // Every signal is held until the result is written: the first stops the run, the exit
      // code is its own even when it came between two runs (interrupt.ts).
      const stop = takeSignals({ stdoutIsOutput: opts.json === '-' });
      try {
        const { outputs, json } = selectRunOutputs(
          resolved.scenario.name,
          new Date(),
          { ...opts, metricsPort, stop: stop.signal },
          resolved.scenario.output,
        );
        const result = await runScenario(resolved, outputs, {
          signal: stop.signal,
          repeat,
          ...(shard ? { shard: { ...shard, startAt } } : {}),
        });
        if (result === null && stop.cause !== null) {
          process.stderr.write(`${stop.cause}: stopped before any run had a result\n`);
        }
        const outcome = runOutcome(result, json.written());
        // A run that failed because it was stopped (its target gone with the signal) ends as
        // the stop did.
        if (typeof outcome !== 'number' && stop.cause === null) throw outcome;
        process.exitCode = stop.exitCode(typeof outcome === 'number' ? outcome : EXIT.runtime);
      } finally {
        stop.release();
      }
    });
}
