import type { Children } from '../children/children.js';
import { type ProxyChild, startProxyChild } from '../children/proxy-child.js';
import { startTargetChild, type TargetChild } from '../children/target-child.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { type Endpoint, endpointOf } from '../config/url.js';
import { LabError } from '../errors.js';
import { type CpuSplit, onCpus, splitCpus } from '../isolation/cpus.js';
import { createNetns, type NetnsTopology } from '../isolation/netns.js';
import { nftMissing } from '../isolation/wire.js';
import type { ServerCloses } from '../record/closes.js';
import type { Crasher } from './faults.js';

// Where a run's parts live and what serves: the hosts (a namespace each with netns isolation,
// CPUs of their own as on two machines) and, on them, the target and the proxy in front of it.

export interface Hosts {
  topology: NetnsTopology | null;
  cpus: { split: CpuSplit | null; shared: string | null };
  /** What to start the client's processes with: its namespace, then its CPUs. */
  clientPrefix: string[];
  targetPrefix: string[];
  proxyPrefix: string[];
}

export async function makeHosts(spec: DeepReadonly<RunSpec>): Promise<Hosts> {
  // Said before anything is made: a fault on the wire needs nft in the namespaces.
  const onWire = spec.faults.some((f) => !('crash' in f));
  const missing = onWire ? await nftMissing() : null;
  if (missing) {
    throw new LabError('KAL_PERMISSION', missing, {
      problems: [
        { path: 'faults', message: 'install nftables, or leave the drops and blackholes out' },
      ],
    });
  }
  const topology =
    spec.isolation === 'netns'
      ? await createNetns({
          client: spec.client.sysctls ?? {},
          server: spec.target.sysctls ?? {},
          ...(spec.proxy ? { proxy: spec.proxy.sysctls ?? {} } : {}),
        })
      : null;
  // The target and the client on CPUs of their own (see isolation/cpus.ts); the proxy shares the
  // target's: both serve.
  const { split, why } = splitCpus(spec.cpus);
  return {
    topology,
    cpus: { split, shared: why },
    clientPrefix: [...(topology?.exec('client') ?? []), ...onCpus(split?.client)],
    targetPrefix: [...(topology?.exec('server') ?? []), ...onCpus(split?.target)],
    proxyPrefix: [...(topology?.exec('proxy') ?? []), ...onCpus(split?.target)],
  };
}

/** What serves the load, and the pids whose namespaces the legs' samplers read. */
export interface Serving {
  target: TargetChild | null;
  /** The target's own URL; the client loads `url` (the proxy's, with one). */
  targetUrl: string;
  proxy: ProxyChild | null;
  url: string;
  /** Both read once: where the target listens, and where the client connects (the front leg). */
  at: { target: Endpoint; front: Endpoint };
  /** Null in this machine's namespace (loopback): the sampler needs no pid there. */
  serverPid: number | null;
  clientPid: number | null;
  proxyPid: number | null;
  /** Set while a fault has the target down: its exit is the fault's, not the run's end. */
  crashed: boolean;
  /** Called when the target exits other than by a fault (the run then stops). */
  onTargetExit: (code: number | null, signal: string | null) => void;
}

export async function startServing(
  spec: DeepReadonly<RunSpec>,
  children: Children,
  hosts: Hosts,
  onTargetCloses: (closes: ServerCloses) => void,
): Promise<Serving> {
  const { topology } = hosts;
  const target =
    spec.target.url === undefined
      ? await startTarget(spec, children, topology, hosts.targetPrefix, onTargetCloses)
      : null;
  const targetUrl = target?.url ?? (spec.target.url as string);
  const targetAt = endpointOf(targetUrl);
  let proxy: ProxyChild | null = null;
  if (spec.proxy) {
    proxy = await startProxyChild(
      children,
      spec.proxy,
      {
        host: topology?.proxy?.address ?? targetAt.host,
        target: { host: targetAt.host, port: targetAt.port },
        netns: topology?.proxy?.ns ?? null,
      },
      hosts.proxyPrefix,
    );
  }
  return {
    target,
    targetUrl,
    proxy,
    url: proxy?.url ?? targetUrl,
    at: { target: targetAt, front: proxy ? endpointOf(proxy.url) : targetAt },
    serverPid: topology?.server.anchorPid ?? spec.target.pid ?? null,
    clientPid: topology?.client.anchorPid ?? null,
    proxyPid: topology?.proxy?.anchorPid ?? null,
    crashed: false,
    onTargetExit: () => {},
  };
}

/** Tells the run when its target exits, unless a fault killed it. */
export function watchTarget(serving: Serving): void {
  serving.target?.child.once('exit', (code, signal) => {
    if (!serving.crashed) serving.onTargetExit(code, signal);
  });
}

/** The target killed by a fault (SIGKILL: its kernel closes its sockets) and started again. */
export function targetCrasher(
  spec: DeepReadonly<RunSpec>,
  children: Children,
  hosts: Hosts,
  serving: Serving,
  onTargetCloses: (closes: ServerCloses) => void,
): Crasher {
  return {
    kill: () => {
      if (!serving.target || serving.crashed) return;
      serving.crashed = true;
      serving.target.child.kill('SIGKILL');
    },
    restart: async () => {
      if (!serving.crashed || !serving.target) return;
      // On the same port, so the client's pool finds it where it was.
      serving.target = await startTarget(
        spec,
        children,
        hosts.topology,
        hosts.targetPrefix,
        onTargetCloses,
        serving.target.port,
      );
      serving.crashed = false;
      watchTarget(serving);
    },
  };
}

function startTarget(
  spec: DeepReadonly<RunSpec>,
  children: Children,
  topology: NetnsTopology | null,
  prefix: readonly string[],
  onCloses: (closes: ServerCloses) => void,
  port?: number,
): Promise<TargetChild> {
  const { url: _u, pid: _p, sysctls: _s, ...knobs } = spec.target;
  const host = topology ? { host: topology.server.address } : {};
  return startTargetChild(
    children,
    { ...knobs, ...host, ...(port !== undefined ? { port } : {}) } as DeepReadonly<TargetKnobs>,
    prefix,
    onCloses,
  );
}
