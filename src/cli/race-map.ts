import { Command } from 'commander';
import { raceMapGapCount } from '../config/race-map.js';
import { loadScenario } from '../config/scenario-resolve.js';
import { EXIT, LabError } from '../errors.js';
import { refuseCollisions } from '../output/collide.js';
import { fileAt } from '../output/file.js';
import { plain } from '../text.js';
import { scenarioPath } from './catalogue.js';
import { DRY_RUN, printResolved } from './flags.js';
import { takeSignals } from './interrupt.js';

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
      refuseCollisions(
        [
          ...(opts.json ? [{ field: '--json', path: opts.json }] : []),
          ...(opts.html ? [{ field: '--html', path: opts.html }] : []),
        ],
        [{ field: 'scenario', path: file }],
      );
      if (opts.dryRun) {
        // The plan's size, as bounded by the schema (config/race-map.ts).
        const gaps = raceMapGapCount(knobs);
        return printResolved({ ...resolved, plan: { gaps, trials: gaps * knobs.trials } });
      }
      // Checked before any trial: a path that cannot be written is bad input.
      const json = opts.json ? await fileAt(opts.json, '--json') : null;
      const html = opts.html ? await fileAt(opts.html, '--html') : null;
      const { runRaceMap } = await import('../plans/race-map.js');
      const { raceMapText } = await import('../report/race-map-text.js');
      const stop = takeSignals();
      try {
        const result = await runRaceMap(spec, knobs, { signal: stop.signal });
        process.stdout.write(plain(`${raceMapText(result)}\n`));
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
        process.exitCode = stop.exitCode(result.partial ? EXIT.interrupted : EXIT.ok);
      } finally {
        stop.release();
      }
    });
}
