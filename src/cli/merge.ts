import { Command } from 'commander';
import { LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import { DRIVER_SCHEMA, type DriverResult } from '../record/driver.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../record/run.js';
import { driveText } from '../report/drive-text.js';
import { readResultFile } from '../results/read.js';
import { DRY_RUN, printResolved } from './flags.js';

// `keepalive-lab merge SHARD.json... --json OUT`: the shards of one load (`drive --shard I/N`) as
// one result of the same shape, merged exactly (src/merge/).

export function mergeCommand(): Command {
  return new Command('merge')
    .description('merge the shard results of one load into one, exactly (histograms added)')
    .argument('<results...>', 'shard results: keepalive-lab drive --shard I/N --json FILE')
    .requiredOption('--json <file>', 'write the merged result here ("-" for stdout)')
    .option(...DRY_RUN)
    .action(async (files: string[], opts: { json: string; dryRun?: boolean }) => {
      if (opts.dryRun) return printResolved({ files, json: opts.json });
      const out = opts.json === '-' ? null : await fileAt(opts.json, '--json');
      const inputs = await Promise.all(
        files.map(async (file) => {
          const r = await readResultFile<DriverResult & { schema: string }>(
            file,
            [DRIVER_SCHEMA, RUN_SCHEMA, RUNS_SCHEMA],
            'a result written by `keepalive-lab drive --json`',
          );
          if (r.schema !== DRIVER_SCHEMA) {
            throw new LabError('KAL_RESULT_UNREADABLE', `${file}: is a run result (${r.schema})`, {
              problems: [
                {
                  path: file,
                  message:
                    'merge takes the shard results of `keepalive-lab drive --shard I/N`; merging whole runs is not built yet',
                },
              ],
            });
          }
          return { file, r };
        }),
      );
      const { mergeDriverResults } = await import('../merge/drive.js');
      const merged = mergeDriverResults(inputs);
      const text = `${JSON.stringify(merged, null, 2)}\n`;
      if (!out) process.stdout.write(text);
      else {
        await out.write(text);
        process.stdout.write(`${driveText(merged)}\n`);
      }
    });
}
