import { LabError } from '../errors.js';

// One shard of a load: which of N it is (`--shard I/N`, or `--shards N` with the index a
// Kubernetes Indexed Job sets in JOB_COMPLETION_INDEX), and its exact part of the connections,
// the open-loop rate and the request count: integer parts that sum to the whole (the first
// `whole mod N` shards take one more), so merged shards are the load that was asked for.

export interface Shard {
  /** 0-based, as JOB_COMPLETION_INDEX is. */
  index: number;
  count: number;
}

const bad = (flag: string, message: string) =>
  new LabError('KAL_FLAG_INVALID', `${flag}: ${message}`, {
    problems: [{ path: flag, message }],
  });

/** The shard asked for, or null; `env` is where JOB_COMPLETION_INDEX is read. */
export function shardOf(
  opts: { shard?: unknown; shards?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): Shard | null {
  if (opts.shard !== undefined && opts.shards !== undefined) {
    throw bad('--shards', 'give --shard I/N or --shards N (with JOB_COMPLETION_INDEX), not both');
  }
  if (opts.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(String(opts.shard));
    if (!m) throw bad('--shard', `"${opts.shard}" is not I/N, e.g. 0/4 (the first of four)`);
    return checked('--shard', Number(m[1]), Number(m[2]));
  }
  if (opts.shards !== undefined) {
    const count = Number(opts.shards);
    const raw = env.JOB_COMPLETION_INDEX;
    if (raw === undefined || !/^\d+$/.test(raw)) {
      throw bad(
        '--shards',
        `JOB_COMPLETION_INDEX is ${raw === undefined ? 'not set' : `"${raw}"`}: it is set by a Kubernetes Indexed Job; elsewhere use --shard I/N`,
      );
    }
    return checked('--shards', Number(raw), count);
  }
  return null;
}

function checked(flag: string, index: number, count: number): Shard {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw bad(flag, `the number of shards must be a whole number from 1 to 10000, not ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw bad(flag, `the shard index must be from 0 to ${count - 1}, not ${index}`);
  }
  return { index, count };
}

/** Shard `index` of `count` of a whole number: the parts differ by at most one and sum to it. */
export function partOf(whole: number, { index, count }: Shard): number {
  return Math.floor(whole / count) + (index < whole % count ? 1 : 0);
}

/**
 * A rate's part, exact to the milli-request per second (rates need not be whole numbers): the
 * shards' rates sum to the rate asked for.
 */
export function rateOf(rate: number, shard: Shard): number {
  return partOf(Math.round(rate * 1000), shard) / 1000;
}

/** The shard's connections, rate and requests; connections must leave at least one per shard. */
export function splitLoad<
  C extends { connections: number },
  L extends { rate?: number | undefined; requests?: number | undefined },
>(client: C, load: L, shard: Shard): { client: C; load: L } {
  if (client.connections < shard.count) {
    throw bad(
      'client.connections',
      `${client.connections} connections cannot be split into ${shard.count} shards: give at least one per shard`,
    );
  }
  if (load.rate !== undefined && rateOf(load.rate, shard) <= 0) {
    throw bad('load.rate', `a rate of ${load.rate}/s leaves shard ${shard.index} nothing to send`);
  }
  if (load.requests !== undefined && partOf(load.requests, shard) === 0) {
    throw bad(
      'load.requests',
      `${load.requests} requests leave shard ${shard.index} of ${shard.count} none: give at least one per shard`,
    );
  }
  return {
    client: { ...client, connections: partOf(client.connections, shard) },
    load: {
      ...load,
      ...(load.rate !== undefined ? { rate: rateOf(load.rate, shard) } : {}),
      ...(load.requests !== undefined ? { requests: partOf(load.requests, shard) } : {}),
    },
  };
}

/** `--start-at`: epoch milliseconds or an ISO time, as epoch milliseconds. */
export function startAtOf(value: unknown, now = Date.now()): number {
  const text = String(value);
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw bad(
      '--start-at',
      `"${text}" is neither epoch milliseconds nor an ISO time (2026-11-22T10:00:00Z)`,
    );
  }
  if (ms > now + 24 * 3600_000)
    throw bad('--start-at', `${new Date(ms).toISOString()} is more than a day away`);
  return ms;
}
