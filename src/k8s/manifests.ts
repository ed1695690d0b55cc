import type { RunSpec } from '../config/scenario-resolve.js';
import { carriesCredentials, redactUrl } from '../config/url.js';

// The Kubernetes objects that run a scenario's load as N shards, one pod each: an Indexed Job
// (each pod gets JOB_COMPLETION_INDEX, which `run --shards N` reads), the pods' scenario in a
// ConfigMap (a Secret when it holds credentials) mounted into each pod, the scenario as written
// for reference, and, when the scenario uses the built-in target, that target as a Deployment
// and Service to experiment against. Each pod is a client host with a network namespace of its
// own, so `run` samples that host's TIME_WAIT and ports. Pure: objects in, the printing is the
// CLI's.
//
// Results are collected from the pods' logs (`run --json -` prints the result alone on stdout):
// that needs no storage class shared between nodes (ReadWriteMany) and no object-store
// credentials, and a shard's result is a few MB at most, under the kubelet's 10 MiB log
// rotation. The merge then runs where kubectl does.

export interface K8sOptions {
  shards: number;
  image: string;
  /** The common start, epoch ms. */
  startAt: number;
  /** Object names; a DNS-1123 label. */
  name: string;
  namespace: string | null;
  /** The scenario file's text, kept in the ConfigMap for reference. */
  scenarioText: string;
}

export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string };

const TARGET_PORT = 3000;
/** Where the pods find their scenario, and its name in the ConfigMap (or the Secret). */
const MOUNT = '/etc/keepalive-lab';
export const POD_SCENARIO = 'scenario.json';

/** Pod sysctls Kubernetes allows without the kubelet's unsafe-sysctls list (k8s 1.29+). */
const SAFE_SYSCTLS: Record<string, string> = {
  // Kubernetes 1.29 counts the keep-alive knobs as safe too.
  tcp_keepalive_time: 'net.ipv4.tcp_keepalive_time',
  tcp_keepalive_intvl: 'net.ipv4.tcp_keepalive_intvl',
  tcp_keepalive_probes: 'net.ipv4.tcp_keepalive_probes',
  ip_local_port_range: 'net.ipv4.ip_local_port_range',
  tcp_fin_timeout: 'net.ipv4.tcp_fin_timeout',
};

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** A name Kubernetes accepts: lower-case alphanumerics and '-', at most 52 characters (Job pods add a suffix). */
export function k8sName(raw: string): string {
  const n = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 52)
    .replace(/-+$/, '');
  return n || 'keepalive-lab';
}

/** Where the shards send their load, and whether the built-in target is deployed for it. */
function targetOf(run: RunSpec, name: string): { url: string; deploy: boolean } {
  if (run.target.url) return { url: run.target.url, deploy: false };
  return { url: `http://${name}-target:${TARGET_PORT}/`, deploy: true };
}

/** The built-in target's knobs as `serve` flags (only those the scenario sets differ). */
function serveArgs(rawTarget: Record<string, unknown>): string[] {
  const args = ['serve', '--host', '0.0.0.0', '--port', String(TARGET_PORT)];
  for (const [k, v] of Object.entries(rawTarget)) {
    if (k === 'host' || k === 'port' || k === 'sysctls' || v === undefined) continue;
    args.push(`--${kebab(k)}`, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return args;
}

export function manifests(
  run: RunSpec,
  rawTarget: Record<string, unknown>,
  o: K8sOptions,
): { objects: K8sObject[]; unsafeSysctls: string[]; url: string } {
  const labels = {
    'app.kubernetes.io/name': 'keepalive-lab',
    'app.kubernetes.io/instance': o.name,
  };
  const meta = (name: string, extra: Record<string, string> = {}) => ({
    name,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    labels: { ...labels, ...extra },
  });
  const { url, deploy } = targetOf(run, o.name);
  const { sysctls = {}, ...client } = run.client as typeof run.client & {
    sysctls?: Record<string, unknown>;
  };
  // Each pod runs the load's part as a client host of its own (`run --shards`): its own network
  // namespace, so its sampler sees that host's TIME_WAIT and port budget, unprivileged (the
  // kernel tracer needs privilege and is left to `auto`). The pod's scenario is this one's, with
  // the target's URL, on loopback and sharing the pod's CPUs (the target is elsewhere).
  const podScenario = {
    name: run.name,
    target: { url },
    client,
    load: run.load,
    sampler: run.sampler,
    isolation: 'loopback',
    cpus: 'shared',
    thresholds: run.thresholds.map((t) => t.expr),
  };
  // A password in the URL, or an Authorization header, goes in a Secret the pods read, never in
  // the ConfigMap or the Job's arguments (both are readable by anyone who can list them).
  const secret = carriesCredentials(url, client.headers as Record<string, string>);
  const podSysctls = Object.entries(sysctls).flatMap(([k, v]) =>
    SAFE_SYSCTLS[k] && v !== undefined ? [{ name: SAFE_SYSCTLS[k], value: String(v) }] : [],
  );
  const unsafeSysctls = Object.keys(sysctls).filter((k) => !SAFE_SYSCTLS[k]);
  const config: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${o.name}-load`),
    data: secret
      ? { 'scenario.yaml': '# left out: it holds credentials; the pods read it from the Secret\n' }
      : { [POD_SCENARIO]: JSON.stringify(podScenario, null, 2), 'scenario.yaml': o.scenarioText },
  };
  const secretObject: K8sObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(`${o.name}-secret`),
    type: 'Opaque',
    stringData: { [POD_SCENARIO]: JSON.stringify(podScenario, null, 2) },
  };
  const volume = secret
    ? { name: 'scenario', secret: { secretName: `${o.name}-secret` } }
    : { name: 'scenario', configMap: { name: `${o.name}-load` } };
  const job: K8sObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(o.name),
    spec: {
      completionMode: 'Indexed',
      completions: o.shards,
      parallelism: o.shards,
      // One attempt per shard: a shard run twice would count its load twice.
      backoffLimit: 0,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'shard' } },
        spec: {
          restartPolicy: 'Never',
          ...(podSysctls.length > 0 ? { securityContext: { sysctls: podSysctls } } : {}),
          volumes: [volume],
          containers: [
            {
              name: 'run',
              image: o.image,
              args: [
                'run',
                `${MOUNT}/${POD_SCENARIO}`,
                '--shards',
                String(o.shards),
                '--start-at',
                new Date(o.startAt).toISOString(),
                '--json',
                '-',
              ],
              volumeMounts: [{ name: 'scenario', mountPath: MOUNT, readOnly: true }],
              resources: { requests: { cpu: '1', memory: '256Mi' }, limits: { memory: '512Mi' } },
            },
          ],
        },
      },
    },
  };
  const objects: K8sObject[] = [config, ...(secret ? [secretObject] : []), job];
  if (deploy) objects.push(...targetObjects(o, labels, meta, rawTarget));
  return { objects, unsafeSysctls, url: redactUrl(url) };
}

/** The built-in target the cluster runs for the shards (`deploy`): a Deployment and its Service. */
function targetObjects(
  o: K8sOptions,
  labels: Record<string, string>,
  meta: (name: string, extra?: Record<string, string>) => Record<string, unknown>,
  rawTarget: Record<string, unknown>,
): K8sObject[] {
  const targetLabels = { ...labels, 'app.kubernetes.io/component': 'target' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(`${o.name}-target`, { 'app.kubernetes.io/component': 'target' }),
      spec: {
        replicas: 1,
        selector: { matchLabels: targetLabels },
        template: {
          metadata: { labels: targetLabels },
          spec: {
            containers: [
              {
                name: 'target',
                image: o.image,
                args: serveArgs(rawTarget),
                ports: [{ containerPort: TARGET_PORT, name: 'http' }],
                readinessProbe: { tcpSocket: { port: TARGET_PORT }, periodSeconds: 2 },
                resources: { requests: { cpu: '1', memory: '256Mi' } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${o.name}-target`, { 'app.kubernetes.io/component': 'target' }),
      spec: {
        selector: targetLabels,
        ports: [{ name: 'http', port: TARGET_PORT, targetPort: TARGET_PORT }],
      },
    },
  ];
}

/** A namespace Kubernetes accepts (an RFC 1123 label), or why not. */
export function namespaceProblem(ns: string): string | null {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)
    ? null
    : `"${ns.replace(/[^\x20-\x7e]/g, '?')}" is not a namespace name: lower-case letters, digits and "-", at most 63, starting and ending with a letter or digit`;
}

/** An image reference with no room for anything else in the YAML or a shell, or why not. */
export function imageProblem(image: string): string | null {
  return /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(image)
    ? null
    : `"${image.replace(/[^\x20-\x7e]/g, '?')}" is not an image reference: letters, digits and . _ / : @ - only (e.g. registry.example/keepalive-lab:0.1.0)`;
}

/** The steps after `kubectl apply`, as the comment heading the printed manifests. */
export function collectSteps(o: K8sOptions): string[] {
  const ns = o.namespace ? ` -n ${o.namespace}` : '';
  return [
    `keepalive-lab: ${o.shards} shards of one load, starting together at ${new Date(o.startAt).toISOString()}`,
    '(regenerate if you apply later: a shard that starts late begins at once and says how late).',
    `  kubectl apply${ns} -f manifests.yaml`,
    `  kubectl wait${ns} --for=condition=complete job/${o.name} --timeout=1h`,
    `  for i in $(seq 0 ${o.shards - 1}); do`,
    `    kubectl logs${ns} -l job-name=${o.name},batch.kubernetes.io/job-completion-index=$i > shard-$i.json`,
    '  done',
    '  keepalive-lab merge shard-*.json --json merged.json',
    `  kubectl delete${ns} -f manifests.yaml`,
    "Results come back through the pods' logs (`run --json -`): no shared volume or object store",
    "is needed, and a shard's result stays far under the kubelet's 10 MiB log rotation.",
  ];
}
