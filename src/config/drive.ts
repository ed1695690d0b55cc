import { parseTargetUrl } from '../driver/url.js';
import { LabError } from '../errors.js';
import { shardOf, splitLoad, startAtOf } from '../shard/split.js';
import { clientSchema, loadSchema } from './driver.js';
import { flagOf, flagValues, labelFor } from './flags.js';
import { isTls, protocolOf, protocolProblems } from './protocol.js';
import { resolve } from './resolve.js';
import { duration } from './units.js';

// `keepalive-lab drive URL`'s options resolved as a scenario is: by the same schemas, every
// problem listed at once, a frozen result. The CLI only parses the command line and acts.

/** Flag names that differ from the kebab-case of their key: kept apart from the target's. */
export const CLIENT_FLAGS = {
  keepAliveTimeout: 'client-keep-alive-timeout',
  keepAliveMaxTimeout: 'client-keep-alive-max-timeout',
  keepAliveTimeoutThreshold: 'client-keep-alive-timeout-threshold',
  maxRequestsPerConnection: 'max-requests-per-connection',
} as const;

/**
 * The drive's options resolved at once: every problem in them listed together (as resolve()
 * does for a scenario), the client and load by their schemas, the URL, the shard.
 */
export function resolveDrive(url: string, opts: Readonly<Record<string, unknown>>) {
  const clientInput = flagValues(opts, clientSchema.shape, CLIENT_FLAGS) as Record<string, unknown>;
  for (const key of ['headers', 'agent', 'tls'] as const) {
    if (typeof clientInput[key] === 'string') clientInput[key] = parseJsonFlag(key, opts[key]);
  }
  const problems: LabError[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof LabError) problems.push(err);
      else throw err;
      return undefined;
    }
  };
  const client = attempt(() =>
    resolve(clientSchema, clientInput, {
      source: 'client options',
      label: labelFor('client', clientSchema.shape, CLIENT_FLAGS),
    }),
  );
  const load = attempt(() =>
    resolve(loadSchema, flagValues(opts, loadSchema.shape), {
      source: 'load options',
      label: labelFor('load', loadSchema.shape),
    }),
  );
  const intervalMs = attempt(() =>
    resolve(duration({ min: 100 }), opts.interval, {
      source: 'options',
      label: () => '--interval',
    }),
  );
  attempt(() => parseTargetUrl(url, '<url>'));
  if (client) {
    const target = { url };
    const found = protocolProblems(
      protocolOf(target, client),
      isTls(url),
      client,
      true,
      (k) => `--${flagOf(k, CLIENT_FLAGS)}`,
    );
    if (found.length > 0) {
      problems.push(new LabError('KAL_CONFIG_INVALID', 'protocol', { problems: found }));
    }
  }
  const shard = attempt(() => shardOf(opts));
  const startAt = opts.startAt === undefined ? null : attempt(() => startAtOf(opts.startAt));
  const split = shard && client && load ? attempt(() => splitLoad(client, load, shard)) : null;
  if (problems.length > 0 || !client || !load || intervalMs === undefined) {
    const all = problems.flatMap((p) => [...p.problems]);
    throw new LabError('KAL_CONFIG_INVALID', `${all.length} problem(s) in the options`, {
      problems: all,
    });
  }
  return Object.freeze({ client, load, intervalMs, shard, startAt, split });
}

const JSON_EXAMPLES = {
  headers: '{"x-test":"1"}',
  agent: '{"timeout":"2s","scheduling":"fifo"}',
  tls: '{"ca":"ca.pem","servername":"api.example"}',
};

function parseJsonFlag(key: keyof typeof JSON_EXAMPLES, raw: unknown): unknown {
  try {
    return JSON.parse(String(raw));
  } catch {
    throw new LabError('KAL_FLAG_INVALID', `--${key} is not JSON`, {
      problems: [{ path: `--${key}`, message: `give a JSON object, e.g. ${JSON_EXAMPLES[key]}` }],
    });
  }
}
