import { LabError } from '../errors.js';
import { splitLoad } from '../shard/split.js';
import type { DeepReadonly } from './resolve.js';
import type { ResolvedScenario } from './scenario-resolve.js';

// What a scenario must be to run as N shards, on hosts of their own (`run --shard I/N`) or as the
// pods of a Kubernetes Job (`k8s --shards N`): one load, split exactly N ways, against a target
// every shard reaches. One set of rules and one wording for both; where they differ (a Job starts
// its own target and gives each pod its own host) it is said here.

export type ShardedOn = 'hosts' | 'job';

/** The scenario's problems as `count` shards on `on`, all at once; `repeat` is `run --repeat`. */
export function shardProblems(
  resolved: DeepReadonly<ResolvedScenario>,
  count: number,
  on: ShardedOn,
  repeat = 1,
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const no = (path: string, message: string) => problems.push({ path, message });
  const [spec, ...more] = resolved.runs;
  if (more.length > 0) {
    no('variants', 'shards run one load: give a scenario without variants (one file per variant)');
  }
  if (repeat > 1) no('--repeat', 'run each repeat as its own sharded load');
  if (resolved.search) no('search', 'a search decides each rate from the last: run it unsharded');
  if (!spec) return problems;
  // A Job starts the built-in target in the cluster, and each pod is a host of its own.
  if (on === 'hosts' && spec.target.url === undefined) {
    no(
      'target.url',
      'the shards share one target: start it on its own host (keepalive-lab serve) and give its URL',
    );
  }
  if (on === 'hosts' && spec.isolation !== 'loopback') {
    no('isolation', 'each shard is a client host of its own: use isolation: loopback on each');
  }
  if (spec.proxy) {
    no(
      'proxy',
      'the shards share one target and run no proxy: put yours in front of the target (on its own host, or in the cluster) and give its URL as target.url',
    );
  }
  if (spec.client.workers > 1) {
    no(
      'client.workers',
      `workers are shards on one host: run ${count * spec.client.workers} shards instead`,
    );
  }
  // A load that cannot be split N ways is refused before any shard starts.
  for (let index = 0; index < count && problems.length === 0; index++) {
    try {
      splitLoad(spec.client, spec.load, { index, count });
    } catch (err) {
      if (err instanceof LabError) problems.push(...err.problems);
      else throw err;
    }
  }
  return problems;
}

/** Throws the problems of `shardProblems`, if any, as one bad input. */
export function checkShardable(
  resolved: DeepReadonly<ResolvedScenario>,
  count: number,
  on: ShardedOn,
  repeat = 1,
): void {
  const problems = shardProblems(resolved, count, on, repeat);
  if (problems.length > 0) {
    throw new LabError('KAL_CONFIG_INVALID', `the scenario cannot run as ${count} shards`, {
      problems,
    });
  }
}
