import { Command } from 'commander';
import { loadScenario } from '../config/scenario-resolve.js';
import { EXIT, LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import { scenarioPath } from './catalogue.js';
import { DRY_RUN, printResolved } from './flags.js';

interface RaceMapFlags {
  json?: string;
  html?: string;
  dryRun?: boolean;
}

// `keepalive-lab race-map SCENARIO`: the keep-alive race window of one server, from a scenario's
// raceMap section. Ctrl-C stops it with what it measured written, marked partial (exit 130).

export function raceMapCommand(): Command {
  return new Command('race-map')
    .description(
      "map the keep-alive race window: the client's idle gap swept across the server's idle timeout",
    )
    .argument('<scenario>', 'scenario file with a raceMap section, or a catalogue name: race-map')
    .option('--json <file>', 'write the JSON result here')
    .option('--html <file>', 'also write the HTML report here')
    .option(...DRY_RUN)
    .action(async (given: string, opts: RaceMapFlags) => {
      const file = scenarioPath(given);
      const resolved = await loadScenario(file);
      const knobs = resolved.raceMap;
      const spec = resolved.runs[0];
      if (!knobs || !spec) {
        throw new LabError('KAL_CONFIG_INVALID', `scenario ${file} has no raceMap section`, {
          problems: [
            { path: 'raceMap', message: 'add raceMap: { span: 2ms, step: 100us, trials: 20 }' },
          ],
        });
      }
      if (opts.dryRun) return printResolved(resolved);
      // Checked before any trial: a path that cannot be written is bad input.
      const json = opts.json ? await fileAt(opts.json, '--json') : null;
      const html = opts.html ? await fileAt(opts.html, '--html') : null;
      const { runRaceMap } = await import('../run/race-map.js');
      const { raceMapText } = await import('../report/race-map-text.js');
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await runRaceMap(spec, knobs, { signal: controller.signal });
        process.stdout.write(`${raceMapText(result)}\n`);
        if (json)
          process.stderr.write(
            `json: ${await json.write(`${JSON.stringify(result, null, 2)}\n`)}\n`,
          );
        if (html) {
          const [{ reportHtml }, { htmlAssets }] = await Promise.all([
            import('../report/html/page.js'),
            import('../output/html-assets.js'),
          ]);
          process.stderr.write(
            `html report: ${await html.write(reportHtml(result, await htmlAssets()))}\n`,
          );
        }
        process.exitCode = result.partial ? EXIT.interrupted : EXIT.ok;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
