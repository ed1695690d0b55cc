import { Command } from 'commander';
import { loadScenario } from '../config/scenario-resolve.js';
import { selectRunOutputs } from '../output/select.js';
import { DRY_RUN, printResolved } from './flags.js';

interface RunFlags {
  json?: string;
  out?: string;
  markdown?: string;
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
    .option(...DRY_RUN)
    .action(async (file: string, opts: RunFlags) => {
      const resolved = await loadScenario(file);
      if (opts.dryRun) return printResolved(resolved);
      const { outputs, json } = selectRunOutputs(
        resolved.scenario.name,
        new Date(),
        opts,
        resolved.scenario.output,
      );
      const { runScenario } = await import('../run/scenario.js');
      const { runOutcome } = await import('../run/outcome.js');
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => controller.abort(signal);
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await runScenario(resolved, outputs, controller.signal);
        const outcome = runOutcome(result, json.written());
        if (typeof outcome !== 'number') throw outcome;
        process.exitCode = outcome;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
