import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import type { RunResult } from '../src/record/run.js';
import { CLI, runCli } from './helpers/cli.js';
import { runShard } from './helpers/shards.js';
import { withTarget } from './helpers/target.js';

// `keepalive-lab k8s`: the manifests are valid Kubernetes objects (checked offline against the
// API schemas that kubernetes-models ships), the Job has the shape an Indexed Job needs, and the
// pods' command, run here as Kubernetes would run it (JOB_COMPLETION_INDEX set, the scenario
// mounted from the ConfigMap, the result read from stdout as `kubectl logs` would), merges into
// the whole load with each pod's own kernel view.

type Obj = { kind: string; metadata: { name: string }; [k: string]: unknown };

const VALIDATE: Record<string, (o: Obj) => void> = {
  ConfigMap: (o) => new ConfigMap(o as never).validate(),
  Job: (o) => new Job(o as never).validate(),
  Deployment: (o) => new Deployment(o as never).validate(),
  Service: (o) => new Service(o as never).validate(),
};

function generate(scenario: string, ...flags: string[]): { objects: Obj[]; head: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kal-k8s-'));
  const file = join(dir, 's.yaml');
  writeFileSync(file, scenario);
  const r = runCli(['k8s', file, ...flags]);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs as { errors: unknown[] }[]) assert.deepEqual(d.errors, []);
  return {
    objects: (docs as { toJS(): Obj }[]).map((d) => d.toJS()).filter(Boolean),
    head: r.stdout.split('---')[0] ?? '',
  };
}

interface Container {
  args: string[];
  volumeMounts: { name: string; mountPath: string }[];
}
const containerOf = (job: Obj) =>
  (job as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template
    .spec.containers[0] as Container;

describe('keepalive-lab k8s: the manifests', () => {
  it('are valid Kubernetes objects, and the Job is Indexed with N completions run in parallel', () => {
    const { objects, head } = generate(
      'name: Fleet Test\nisolation: netns\ntarget: { connectionClose: always }\nclient: { connections: 12, sysctls: { ip_local_port_range: "20000 60999", tcp_tw_reuse: 1 } }\nload: { duration: 30s, rate: 3000 }\n',
      '--shards',
      '4',
      '--image',
      'registry.example/keepalive-lab:1',
    );
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'Job',
      'Service',
    ]);
    for (const o of objects) VALIDATE[o.kind]?.(o);
    const job = objects.find((o) => o.kind === 'Job') as Obj & {
      spec: Record<string, unknown> & { template: { spec: Record<string, unknown> } };
    };
    assert.equal(job.metadata.name, 'fleet-test');
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, 4);
    assert.equal(job.spec.parallelism, 4);
    assert.equal(job.spec.backoffLimit, 0);
    const c = containerOf(job);
    assert.deepEqual(c.args.slice(0, 4), [
      'run',
      '/etc/keepalive-lab/scenario.json',
      '--shards',
      '4',
    ]);
    const cm = objects.find((o) => o.kind === 'ConfigMap') as Obj & {
      data: Record<string, string>;
    };
    const volumes = (job.spec.template.spec as { volumes: { configMap: { name: string } }[] })
      .volumes;
    assert.equal(volumes[0]?.configMap.name, cm.metadata.name);
    assert.equal(c.volumeMounts[0]?.mountPath, '/etc/keepalive-lab');
    // The pods' scenario is one `run` accepts, against the deployed target, on loopback.
    const pod = resolveScenario(JSON.parse(cm.data['scenario.json'] as string), 'pod scenario');
    const [spec] = pod.runs;
    assert.equal(spec?.client.connections, 12);
    assert.equal(spec?.load.rate, 3000);
    assert.equal(spec?.target.url, 'http://fleet-test-target:3000/');
    assert.equal(spec?.isolation, 'loopback');
    // The safe sysctl goes on the pod; the unsafe one is said, not silently dropped.
    assert.deepEqual(job.spec.template.spec.securityContext, {
      sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '20000 60999' }],
    });
    assert.match(head, /tcp_tw_reuse: not in Kubernetes' safe set/);
    assert.match(head, /keepalive-lab merge shard-\*\.json/);
    const dep = objects.find((o) => o.kind === 'Deployment') as unknown as Obj & {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    assert.deepEqual(dep.spec.template.spec.containers[0]?.args.slice(-2), [
      '--connection-close',
      'always',
    ]);
  });

  it('the validator catches what Kubernetes would refuse', () => {
    const { objects } = generate(
      'target: { url: "http://svc:8080/" }\nload: { rate: 10 }\n',
      '--shards',
      '2',
    );
    assert.deepEqual(
      objects.map((o) => o.kind).sort(),
      ['ConfigMap', 'Job'],
      'an external target is not deployed',
    );
    const job = structuredClone(objects.find((o) => o.kind === 'Job')) as Obj & {
      spec: Record<string, unknown>;
    };
    job.spec.completions = 'two';
    assert.throws(() => VALIDATE.Job?.(job), /completions must be integer/);
  });

  it('refuses a load that cannot be split, and a scenario with variants, before printing anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-k8s-'));
    const file = join(dir, 's.yaml');
    writeFileSync(file, 'client: { connections: 2 }\nload: { rate: 10 }\n');
    const r = runCli(['k8s', file, '--shards', '3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /2 connections cannot be split into 3 shards/);
    assert.equal(r.stdout, '');
    const v = runCli(['k8s', 'configs/demo.yaml', '--shards', '2']);
    assert.equal(v.code, 2);
    // One rule and one wording for shards on hosts and the pods of a Job.
    const variants = /variants: shards run one load[^\n]*/;
    assert.match(v.stderr, variants);
    const hosts = runCli(['run', 'configs/demo.yaml', '--shard', '0/2']);
    assert.equal(hosts.code, 2);
    assert.equal(hosts.stderr.match(variants)?.[0], v.stderr.match(variants)?.[0]);
  });
});

describe('keepalive-lab k8s: the pods, run here as the Job runs them', () => {
  it('three indexed pods against one target, collected from stdout and merged: the whole load, each host kept', async () => {
    await withTarget({}, async (t) => {
      const { objects } = generate(
        `target: { url: "${t.url}" }\nclient: { connections: 6 }\nload: { duration: 2s, rate: 450 }\nsampler: { interval: 500ms, tail: 0s, tracer: off }\n`,
        '--shards',
        '3',
        '--start-at',
        String(Date.now() + 3000),
      );
      const job = objects.find((o) => o.kind === 'Job') as Obj;
      const cm = objects.find((o) => o.kind === 'ConfigMap') as Obj & {
        data: Record<string, string>;
      };
      const c = containerOf(job);
      const dir = mkdtempSync(join(tmpdir(), 'kal-pods-'));
      // The mounted scenario, where this machine can read it.
      const scenario = join(dir, 'scenario.json');
      writeFileSync(scenario, cm.data['scenario.json'] as string);
      const args = c.args.map((a) => (a === '/etc/keepalive-lab/scenario.json' ? scenario : a));
      const logs = await Promise.all(
        [0, 1, 2].map((i) =>
          runShard(
            process.execPath,
            [CLI, ...args],
            { JOB_COMPLETION_INDEX: String(i) },
            join(dir, `shard-${i}.json`),
          ),
        ),
      );
      const merged = runCli(['merge', ...logs.map((l) => l.file), '--json', '-']);
      assert.equal(merged.code, 0, merged.stderr);
      const m = JSON.parse(merged.stdout) as RunResult;
      const shards = logs.map((l) => l.r as unknown as RunResult);
      assert.deepEqual(
        shards.map((r) => r.summary.shard?.index),
        [0, 1, 2],
      );
      assert.equal(m.summary.poolSize, 6);
      assert.equal(m.summary.rate, 450);
      assert.equal(
        m.summary.requests.completed,
        shards.reduce((n, r) => n + r.summary.requests.completed, 0),
      );
      // The open loop asks rate × duration of each pod whenever it starts (a pod started late
      // still asks its whole part), and its end timer fires late, never early: the 900 asked,
      // sent or counted as never sent, up to what a late timer lets through. (Throughput itself
      // is the pods' start times', not the merge's.)
      const q = m.summary.requests;
      const asked = q.total + (q.notSent ?? 0);
      const seconds = ((m.window?.toMs ?? 0) - (m.window?.fromMs ?? 0)) / 1000;
      const label = `${asked} asked in ${seconds} s: ${JSON.stringify(q)}`;
      assert.ok(asked >= 900 - 3 && asked <= 450 * Math.max(seconds, 2) + 3, label);
      // Each pod's own kernel view is kept (here all three share this machine's namespace).
      assert.equal(m.hosts?.filter((h) => h.role === 'client').length, 3);
      const s = await t.close(500);
      assert.equal(s.connections.accepted, m.summary.connections.opened);
    });
  });
});
