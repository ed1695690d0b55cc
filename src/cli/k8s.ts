import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { checkShardable } from '../config/shards.js';
import { LabError } from '../errors.js';
import { startAtOf } from '../shard/split.js';
import { DRY_RUN } from './flags.js';

// `keepalive-lab k8s SCENARIO --shards N [--image IMG]`: prints the Kubernetes manifests that run
// the scenario's load as N shards (an Indexed Job), with the steps to collect and merge them.

const START_AFTER_MS = 120_000;

export function k8sCommand(): Command {
  return new Command('k8s')
    .description('print Kubernetes manifests that run a scenario as N shards (an Indexed Job)')
    .argument('<scenario>', 'scenario file (YAML or JSON); target.url is the service to load')
    .requiredOption('--shards <n>', 'pods, each driving its exact part of the load')
    .option('--image <image>', 'an image with keepalive-lab as its entrypoint (see Dockerfile)')
    .option('--start-at <time>', 'the common start (epoch ms or ISO time); default: in 2 minutes')
    .option('--name <name>', 'object names (default: the scenario name)')
    .option('--namespace <ns>', 'the namespace to put the objects in')
    .option(...DRY_RUN)
    .action(async (file: string, opts: Record<string, string | undefined>) => {
      const { loadScenario } = await import('../config/scenario-resolve.js');
      const { loadConfigFile } = await import('../config/load.js');
      const { manifests, collectSteps, k8sName, namespaceProblem, imageProblem } = await import(
        '../k8s/manifests.js'
      );
      const { stringify } = await import('yaml');
      const shards = Number(opts.shards);
      if (!Number.isInteger(shards) || shards < 1 || shards > 10_000) {
        throw new LabError('KAL_FLAG_INVALID', `--shards: ${opts.shards} is not 1 to 10000`, {
          problems: [{ path: '--shards', message: 'give the number of pods, e.g. --shards 4' }],
        });
      }
      const problems = [
        ...(opts.namespace !== undefined
          ? [namespaceProblem(opts.namespace)].map((m) => m && { path: '--namespace', message: m })
          : []),
        ...(opts.image !== undefined
          ? [imageProblem(opts.image)].map((m) => m && { path: '--image', message: m })
          : []),
      ].filter((p): p is { path: string; message: string } => Boolean(p));
      if (problems.length > 0) {
        throw new LabError('KAL_FLAG_INVALID', `${problems.length} problem(s) in the options`, {
          problems,
        });
      }
      const resolved = await loadScenario(file);
      checkShardable(resolved, shards, 'job');
      const run = resolved.runs[0] as (typeof resolved.runs)[number];
      const raw = (await loadConfigFile(file)) as { target?: Record<string, unknown> };
      const version = JSON.parse(
        await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
      ) as { version: string };
      const o = {
        shards,
        image: opts.image ?? `keepalive-lab:${version.version}`,
        startAt: opts.startAt ? startAtOf(opts.startAt) : Date.now() + START_AFTER_MS,
        name: k8sName(opts.name ?? run.name),
        namespace: opts.namespace ?? null,
        scenarioText: await readFile(file, 'utf8'),
      };
      const { objects, unsafeSysctls } = manifests(run as never, raw.target ?? {}, o);
      if (opts.dryRun) return;
      const head = [
        ...collectSteps(o),
        ...(unsafeSysctls.length > 0
          ? [
              `client.sysctls ${unsafeSysctls.join(', ')}: not in Kubernetes' safe set; they are left out`,
              "(allow them with the kubelet's --allowed-unsafe-sysctls and add them to the pod yourself).",
            ]
          : []),
      ];
      process.stdout.write(
        `${head.map((l) => `# ${l}`).join('\n')}\n${objects.map((x) => `---\n${stringify(x, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false })}`).join('')}`,
      );
    });
}
