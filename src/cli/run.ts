import { Command } from 'commander';
import { loadScenario } from '../config/scenario-resolve.js';
import { LabError } from '../errors.js';
import { selectRunOutputs } from '../output/select.js';
import { DRY_RUN, printResolved } from './flags.js';

interface RunFlags {
  repeat?: string;
  json?: string;
  out?: string;
  markdown?: string;
  html?: string;
  metricsPort?: string;
  dryRun?: boolean;
}

// `keepalive-lab run SCENARIO`: the main job. Runs the scenario (each variant in turn) with the
// outputs the flags and the scenario ask for; Ctrl-C or SIGTERM stops it with what was measured
// written and marked partial. The exit code says how it ended (src/run/outcome.ts).

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
    .option('--html <file>', 'also write the HTML report here (one self-contained file)')
    .option(
      '--repeat <n>',
      'run the scenario (each variant) n times, interleaved (A B A B), every run kept; for compare',
      '1',
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus /metrics on 127.0.0.1:<port> during the run (output.metrics in a scenario)',
    )
    .option(...DRY_RUN)
    .action(async (file: string, opts: RunFlags) => {
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
      if (opts.dryRun) return printResolved(resolved);
      const { outputs, json } = selectRunOutputs(
        resolved.scenario.name,
        new Date(),
        { ...opts, metricsPort },
        resolved.scenario.output,
      );
      const { runScenario } = await import('../run/scenario.js');
      const { runOutcome } = await import('../run/outcome.js');
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => controller.abort(signal);
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await runScenario(resolved, outputs, { signal: controller.signal, repeat });
        const outcome = runOutcome(result, json.written());
        if (typeof outcome !== 'number') throw outcome;
        process.exitCode = outcome;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
