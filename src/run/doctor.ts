import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitCpus } from '../isolation/cpus.js';
import type { KernelTuning } from '../record/tcp.js';
import { SOCKDIAG_BIN } from '../sampler/sources/sockdiag.js';
import { openInstance, TRACEFS, tracefsRoot } from '../sampler/tracer/tracefs.js';

// `keepalive-lab doctor`: what this host offers the product before a run, each item found by
// trying it (a tracing instance opened and removed, a namespace made and deleted), with what the
// product does without it. Like `brew doctor` and `flutter doctor`: it changes nothing it leaves.

const run = promisify(execFile);

export interface DoctorCheck {
  /** What was checked, e.g. `tracepoint sock:inet_sock_set_state`. */
  name: string;
  /** ok: there; missing: not there (the product does less); tuning: a preference refused. */
  status: 'ok' | 'missing' | 'refused';
  /** What was found: a version, a value, the reason it is missing. */
  found: string;
  /** What the product does without it (empty when ok). */
  without: string;
}

export interface DoctorReport {
  schema: 'keepalive-lab/doctor@1';
  kernel: string;
  checks: DoctorCheck[];
  /** The tracer's preferred tunings as a run would record them (environment.kernel.tunings). */
  tunings: KernelTuning[];
  /** Every capability there (refused tunings only cost reads or buffer space). */
  ok: boolean;
}

const check = (name: string, ok: boolean, found: string, without: string): DoctorCheck => ({
  name,
  status: ok ? 'ok' : 'missing',
  found,
  without: ok ? '' : without,
});

const why = (err: unknown) =>
  ((err as { stderr?: string }).stderr?.trim() || (err as Error).message).split('\n')[0] ?? '';

/** Root, tracefs, the tracepoint and the wire's events, and the tunings an instance gets. */
function tracerChecks(): { checks: DoctorCheck[]; tunings: KernelTuning[] } {
  const checks = [
    check(
      'root',
      process.getuid?.() === 0,
      `uid ${process.getuid?.() ?? 'none'}`,
      'no tracer, no namespaces: TIME_WAIT sampled (a lower bound), first FIN not measured',
    ),
  ];
  let root: string | null = null;
  try {
    root = tracefsRoot();
    checks.push(check('tracefs and sock:inet_sock_set_state', true, root, ''));
  } catch (err) {
    return tracerMissing(checks, 'tracefs and sock:inet_sock_set_state', err);
  }
  for (const e of ['tcp/tcp_retransmit_skb', 'tcp/tcp_send_reset', 'tcp/tcp_receive_reset']) {
    const there = existsSync(join(root, 'events', e));
    checks.push(
      check(
        `tracepoint ${e.replace('/', ':')}`,
        there,
        there ? 'present' : 'absent',
        "faults' wire record lacks it",
      ),
    );
  }
  try {
    // Port 1: nothing of a run's; the buffer a run asks for; the instance is removed at once.
    const instance = openInstance(1);
    instance.close();
    checks.push(check('a tracing instance of its own', true, `${TRACEFS}/instances`, ''));
    for (const t of instance.tunings) {
      checks.push({
        name: `tracer tuning ${t.name}=${t.wanted}`,
        status: t.refused ? 'refused' : 'ok',
        found: t.refused ?? `${t.value}`,
        without: t.refused ? t.cost : '',
      });
    }
    return { checks, tunings: instance.tunings };
  } catch (err) {
    return tracerMissing(checks, 'a tracing instance of its own', err);
  }
}

/** The tracer's checks end at the first that fails: what a run does without it. */
function tracerMissing(checks: DoctorCheck[], name: string, err: unknown) {
  checks.push(
    check(name, false, (err as Error).message, 'closes estimated from sampled TIME_WAIT'),
  );
  return { checks, tunings: [] as KernelTuning[] };
}

async function tool(argv: string[]): Promise<string | null> {
  try {
    const { stdout, stderr } = await run(argv[0] as string, argv.slice(1));
    return (stdout || stderr).trim().split('\n')[0] ?? '';
  } catch {
    return null;
  }
}

/** A namespace made and deleted, named as a run's are (so `cleanup` finds one a kill left). */
async function netnsCheck(): Promise<DoctorCheck> {
  const without = 'isolation: netns and faults refused (loopback only)';
  if (process.getuid?.() !== 0) return check('network namespaces', false, 'needs root', without);
  const name = `kal-${randomBytes(3).toString('hex')}-c`;
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['netns', 'delete', name]);
    return check('network namespaces', true, 'made and removed one', '');
  } catch (err) {
    return check('network namespaces', false, why(err), without);
  }
}

const sysctl = (path: string) => {
  try {
    return readFileSync(`/proc/sys/${path}`, 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    return null;
  }
};

/** The knobs a forecast reads, as this namespace has them. */
function knobChecks(): DoctorCheck[] {
  const knob = (name: string, path: string, without: string) => {
    const v = sysctl(path);
    return check(name, v !== null, v ?? 'unreadable', without);
  };
  return [
    knob('ip_local_port_range', 'net/ipv4/ip_local_port_range', 'no port budget'),
    knob(
      'tcp_tw_reuse',
      'net/ipv4/tcp_tw_reuse',
      'port forecasts cannot say whether ports are reused',
    ),
    knob('tcp_max_tw_buckets', 'net/ipv4/tcp_max_tw_buckets', 'no TIME_WAIT table limit'),
  ];
}

/** What libuv does to a socket Node turns keep-alive on for (DOMAIN.md: libuv 1.49 and later). */
function keepAliveCheck(): DoctorCheck {
  const uv = process.versions.uv ?? '0.0.0';
  const [major, minor] = uv.split('.').map(Number) as [number, number];
  const setsProbes = major > 1 || (major === 1 && minor >= 49);
  const intvl = sysctl('net/ipv4/tcp_keepalive_intvl');
  const probes = sysctl('net/ipv4/tcp_keepalive_probes');
  return check(
    `Node ${process.version}, libuv ${uv}`,
    true,
    setsProbes
      ? 'keep-alive sockets get TCP_KEEPINTVL 1 s and TCP_KEEPCNT 10 from libuv, whatever the sysctls say'
      : `keep-alive sockets keep the namespace's tcp_keepalive_intvl ${intvl} s and tcp_keepalive_probes ${probes}`,
    '',
  );
}

export async function doctor(): Promise<DoctorReport> {
  const linux = process.platform === 'linux';
  const checks: DoctorCheck[] = [
    check(
      'Linux',
      linux,
      `${process.platform} ${linux ? readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() : ''}`,
      'no kernel view: load and latency only',
    ),
  ];
  const tracer = linux ? tracerChecks() : { checks: [], tunings: [] };
  checks.push(...tracer.checks);
  const helper = existsSync(SOCKDIAG_BIN) ? await tool([SOCKDIAG_BIN, '1']) : null;
  checks.push(
    check(
      'sock_diag helper',
      helper !== null,
      helper !== null ? SOCKDIAG_BIN : 'not built (needs cc)',
      'socket tables read with ss (or /proc): slower samples',
    ),
  );
  const ss = await tool(['ss', '-V']);
  checks.push(
    check(
      'ss (iproute2)',
      ss !== null,
      ss ?? 'not found',
      'with no helper either, /proc is read: slower still',
    ),
  );
  const nft = await tool(['nft', '--version']);
  checks.push(check('nft (nftables)', nft !== null, nft ?? 'not found', 'scenario faults refused'));
  if (linux) checks.push(await netnsCheck());
  const cpus = splitCpus('split');
  checks.push(
    check(
      'CPUs for the split',
      cpus.split !== null,
      cpus.split
        ? `target ${cpus.split.target.join(',')}, client ${cpus.split.client.join(',')}`
        : (cpus.why ?? ''),
      'client and target share the CPUs: latency includes their contention',
    ),
  );
  if (linux) checks.push(...knobChecks());
  checks.push(keepAliveCheck());
  return {
    schema: 'keepalive-lab/doctor@1',
    kernel: linux ? readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() : process.platform,
    checks,
    tunings: tracer.tunings,
    ok: checks.every((c) => c.status !== 'missing'),
  };
}
