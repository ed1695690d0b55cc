import { hostname } from 'node:os';
import { setTimeout as wait } from 'node:timers/promises';
import { Command } from 'commander';
import { CLIENT_FLAGS, resolveDrive } from '../config/drive.js';
import { clientSchema, loadSchema } from '../config/driver.js';
import { redactHeaders } from '../config/url.js';
import { redactUrl } from '../driver/url.js';
import { EXIT, LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import { driveText } from '../report/drive-text.js';
import { unanswered } from '../report/unanswered.js';
import type { shardOf } from '../shard/split.js';
import { writeStdout } from '../streams.js';
import { plain } from '../text.js';
import { DRY_RUN, optionsFor, printResolved } from './flags.js';
import { takeSignals } from './interrupt.js';

// `keepalive-lab drive URL`: the load driver on its own (a run's driver is a child told by its
// start message: src/children/child-main.ts).

export function driveCommand(): Command {
  const cmd = new Command('drive')
    .description('drive HTTP load at a URL and measure latency, connections and errors')
    .argument('<url>', 'target URL, e.g. http://127.0.0.1:3000/')
    .option('--json <file>', 'write the result as JSON to this file ("-" for stdout)')
    .option('--interval <duration>', 'timeline interval', '1s')
    .option(
      '--shard <I/N>',
      'drive shard I of N (0-based) of the load: its exact part of connections, rate and requests',
    )
    .option(
      '--shards <n>',
      'as --shard, the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)',
    )
    .option(
      '--start-at <time>',
      'wait until then to start (epoch ms or ISO time): shards start together',
    )
    .option(...DRY_RUN);
  for (const opt of optionsFor(clientSchema.shape, CLIENT_FLAGS)) cmd.addOption(opt);
  for (const opt of optionsFor(loadSchema.shape)) cmd.addOption(opt);
  return cmd.action(async (url: string, opts: Record<string, unknown>) => {
    const { client, load, intervalMs, shard, startAt, split } = resolveDrive(url, opts);
    const mine = split ?? { client, load };
    if (opts.dryRun) {
      const shown = { ...mine.client, headers: redactHeaders(mine.client.headers) };
      return printResolved({
        url: redactUrl(url),
        client: shown,
        load: mine.load,
        intervalMs,
        shard: shard ?? null,
        startAt: startAt ?? null,
      });
    }
    const jsonPath = typeof opts.json === 'string' ? opts.json : undefined;
    const out = jsonPath && jsonPath !== '-' ? await fileAt(jsonPath, '--json') : null;
    // A result on stdout makes stdout the point: its reader gone stops the load (interrupt.ts).
    const stop = takeSignals({ stdoutIsOutput: jsonPath === '-' });
    try {
      const result = await driveStopping(url, mine, intervalMs, stop.signal, {
        shard: shard ?? null,
        startAt: startAt ?? null,
      });
      if (jsonPath === '-') {
        if (!(await writeStdout(`${JSON.stringify(result, null, 2)}\n`))) stop.stop('SIGPIPE');
      } else {
        await out?.write(`${JSON.stringify(result, null, 2)}\n`);
        process.stdout.write(plain(`${driveText(result)}\n`));
      }
      const none = unanswered(result);
      if (none && stop.cause === null) {
        throw new LabError('KAL_TARGET_UNREACHABLE', `${redactUrl(url)}: ${none}`, {
          problems: [
            {
              path: 'url',
              message: `check that a server listens there and answers HTTP/1.1${jsonPath && jsonPath !== '-' ? `; the result is in ${jsonPath}` : ''}`,
            },
          ],
        });
      }
      process.exitCode = stop.exitCode(result.partial ? EXIT.interrupted : EXIT.ok);
    } finally {
      stop.release();
    }
  });
}

type Mine = Parameters<typeof import('../children/driver-workers.js').startDriver>[2];

/** The load, in this process or in driver processes, until it ends or `signal` stops it. */
async function driveStopping(
  url: string,
  mine: Mine,
  intervalMs: number,
  signal: AbortSignal,
  at: { shard: ReturnType<typeof shardOf>; startAt: number | null },
): Promise<import('../record/driver.js').DriverResult> {
  // Loaded here so other commands do not pay for undici at start-up.
  const { driveUntilStopped } = await import('../driver/child.js');
  if (at.startAt !== null) {
    await wait(Math.max(0, at.startAt - Date.now()), undefined, { signal }).catch(() => {});
  }
  const lateMs = at.startAt !== null ? Date.now() - at.startAt : null;
  // Several workers, or an engine that needs Node flags of its own: driver processes.
  const { needsOwnProcess } = await import('../children/node-flags.js');
  if ((mine.client.workers > 1 || needsOwnProcess(mine.client.engine)) && !at.shard) {
    return driveWorkers(url, mine, intervalMs, signal);
  }
  return driveUntilStopped({
    url,
    ...mine,
    intervalMs,
    signal,
    shard: at.shard ? { ...at.shard, startAt: at.startAt, lateMs, host: hostname() } : null,
  });
}

/**
 * `--workers N`: N driver processes, each a shard, merged (the run orchestrator's way); one for
 * an engine started with Node flags of its own (its rules: src/driver/engines/rules.ts).
 */
async function driveWorkers(
  url: string,
  spec: Mine,
  intervalMs: number,
  signal: AbortSignal,
): Promise<import('../record/driver.js').DriverResult> {
  const [{ Children }, { startDriver }] = await Promise.all([
    import('../children/children.js'),
    import('../children/driver-workers.js'),
  ]);
  const children = new Children();
  const driver = startDriver(children, url, spec, intervalMs, () => {});
  const stop = () => driver.stopEarly();
  signal.addEventListener('abort', stop, { once: true });
  if (signal.aborted) stop();
  try {
    return await driver.result;
  } finally {
    signal.removeEventListener('abort', stop);
    await children.stopAll();
  }
}
