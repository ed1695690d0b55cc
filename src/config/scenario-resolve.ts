import type { z } from 'zod';
import { type FieldProblem, LabError } from '../errors.js';
import { parseThreshold, type Threshold } from '../thresholds/parse.js';
import { type LoadModel, loadSchema } from './driver.js';
import { type Fault, faultSchemaFor, faultStart } from './faults.js';
import { keysAt, unknownKeyMessage } from './keys.js';
import { loadConfigFile } from './load.js';
import { isTls, protocolOf, protocolProblems } from './protocol.js';
import { type ProxyKnobs, proxySchema } from './proxy.js';
import type { RaceMapKnobs } from './race-map.js';
import { type DeepReadonly, deepFreeze } from './resolve.js';
import { type SamplerKnobs, samplerSchema } from './sampler.js';
import {
  type ClientSection,
  clientSectionSchema,
  knobsGiven,
  type Scenario,
  scenarioSchema,
  type TargetSection,
  targetSectionSchema,
  variantSchema,
} from './scenario.js';
import type { SearchKnobs } from './search.js';
import { type ExpandedSweep, expandSweep } from './sweep.js';

// A scenario file resolves into one run per variant (or one run when there are none). Every
// problem in the base and in each variant is reported at once, with its path.

export interface RunSpec {
  /** The scenario's name, or the variant's. */
  name: string;
  variant: string | null;
  target: TargetSection;
  client: ClientSection;
  isolation: Scenario['isolation'];
  cpus: Scenario['cpus'];
  load: LoadModel;
  sampler: SamplerKnobs;
  /** The proxy between the client and the target; absent for none. */
  proxy?: ProxyKnobs;
  /** Faults on the wire (isolation: netns), in the order given. */
  faults: Fault[];
  thresholds: Threshold[];
}

export interface ResolvedScenario {
  scenario: Scenario;
  runs: RunSpec[];
  /** The swept paths and each point's values; null without a sweep. */
  sweep: Omit<ExpandedSweep, 'variants'> | null;
  /** The rate search asked for; null without one. */
  search: SearchKnobs | null;
  /** The race map asked for (keepalive-lab race-map); null without one. */
  raceMap: RaceMapKnobs | null;
}

type Raw = Record<string, unknown>;
const asRecord = (v: unknown): Raw =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {};

function issues(
  error: z.ZodError,
  schema: z.ZodType,
  prefix: string,
  only?: Set<string>,
): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const keys =
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    const known = issue.code === 'unrecognized_keys' ? keysAt(schema, issue.path) : [];
    return keys
      .filter((path) => !only || only.has(String(path[0])))
      .map((path) => ({
        path: [prefix, ...path.map(String)].filter(Boolean).join('.') || '(top level)',
        message:
          issue.code === 'unrecognized_keys'
            ? unknownKeyMessage(known, String(path.at(-1)))
            : issue.message,
      }));
  });
}

export function resolveScenario(given: unknown, source: string): DeepReadonly<ResolvedScenario> {
  const problems: FieldProblem[] = [];
  const { raw, sweep } = withSweep(given, problems);
  const parsed = scenarioSchema.safeParse(raw ?? {});
  // Faults are named by their own kind's schema (a union would only say "invalid input").
  if (!parsed.success) {
    problems.push(
      ...issues(parsed.error, scenarioSchema, '').filter((p) => !/^faults\.\d/.test(p.path)),
    );
  }
  const baseFaults = faultsOf(asRecord(raw).faults, 'faults', problems);
  problems.push(...externalTargetProblems(asRecord(asRecord(raw).target)));
  const runs: RunSpec[] = [];
  const base = parsed.success ? parsed.data : null;
  if (base && base.variants.length === 0) {
    const { target, client, load, sampler, thresholds, proxy } = base;
    runs.push({
      name: base.name,
      variant: null,
      target,
      client,
      load,
      sampler,
      ...(proxy ? { proxy } : {}),
      faults: baseFaults ?? [],
      thresholds,
      isolation: base.isolation,
      cpus: base.cpus,
    });
  }
  // Each variant is checked even when the base has problems of its own, so that every problem in
  // the file is listed at once; a variant's runs are only built on a valid base.
  const rawBase = asRecord(raw);
  const rawVariants = Array.isArray(rawBase.variants) ? rawBase.variants : [];
  rawVariants.forEach((rawVariant, i) => {
    // A variant's own shape (its name, unknown keys) is checked with the scenario; its sections
    // are checked here from what it says, even where the rest of it is wrong.
    const valid = variantSchema.safeParse(rawVariant).success;
    const v = asRecord(rawVariant);
    const at = `variants.${i}`;
    const merge = (section: string) => ({
      ...asRecord(rawBase[section]),
      ...asRecord(v[section as keyof typeof v]),
    });
    const load = merge('load');
    // A variant that switches between a duration and a request count replaces the other.
    const vLoad = asRecord(v.load);
    if (vLoad.requests !== undefined && vLoad.duration === undefined) delete load.duration;
    if (vLoad.duration !== undefined && vLoad.requests === undefined) delete load.requests;
    const sectionOf = <T>(schema: z.ZodType<T>, section: string, value: unknown): T | null => {
      const r = schema.safeParse(value);
      if (r.success) return r.data;
      problems.push(
        ...issues(
          r.error,
          schema,
          `${at}.${section}`,
          new Set(Object.keys(asRecord(v[section as keyof typeof v]))),
        ),
      );
      return null;
    };
    const target = sectionOf(targetSectionSchema, 'target', merge('target'));
    const client = sectionOf(clientSectionSchema, 'client', merge('client'));
    const loadModel = sectionOf(loadSchema, 'load', load);
    const sampler = sectionOf(samplerSchema, 'sampler', merge('sampler'));
    // A variant's proxy keys replace the scenario's, key by key (upstream as a whole).
    const proxyKeys = merge('proxy');
    const proxy =
      Object.keys(proxyKeys).length > 0 ? sectionOf(proxySchema, 'proxy', proxyKeys) : undefined;
    const thresholds = [...(base?.thresholds ?? []), ...thresholdsOf(v.thresholds, at, problems)];
    const faults =
      v.faults === undefined ? baseFaults : faultsOf(v.faults, `${at}.faults`, problems);
    if (base && valid && target && client && loadModel && sampler && proxy !== null && faults) {
      runs.push({
        name: String(v.name),
        variant: String(v.name),
        target,
        client,
        load: loadModel,
        sampler,
        ...(proxy ? { proxy } : {}),
        faults,
        thresholds,
        isolation: base.isolation,
        cpus: base.cpus,
      });
    }
  });
  for (const r of runs) problems.push(...runProblems(r));
  if (base?.search) problems.push(...searchProblems(base, runs));
  if (base?.raceMap) problems.push(...raceMapProblems(base));
  if (problems.length > 0) {
    if (sweep) renameSweptProblems(problems, sweep);
    throw new LabError(
      'KAL_CONFIG_INVALID',
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${source}`,
      { problems },
    );
  }
  const { variants: _, ...points } = sweep ?? { variants: null };
  return deepFreeze({
    scenario: base as Scenario,
    runs,
    sweep: sweep ? (points as Omit<ExpandedSweep, 'variants'>) : null,
    search: base?.search ?? null,
    raceMap: base?.raceMap ?? null,
  });
}

/** An external server (target.url) is the user's to configure: the built-in target's knobs are refused. */
function externalTargetProblems(rawTarget: Record<string, unknown>): FieldProblem[] {
  if (rawTarget.url === undefined) return [];
  return knobsGiven(rawTarget).map((key) => ({
    path: `target.${key}`,
    message: 'a knob of the built-in target; with target.url the server is yours to configure',
  }));
}

/** A variant's own thresholds, parsed; each that does not parse is a problem at its place. */
function thresholdsOf(given: unknown, at: string, problems: FieldProblem[]): Threshold[] {
  const out: Threshold[] = [];
  (Array.isArray(given) ? given : []).forEach((expr: unknown, k) => {
    if (typeof expr !== 'string') return;
    try {
      out.push(parseThreshold(expr));
    } catch (err) {
      problems.push({ path: `${at}.thresholds.${k}`, message: (err as Error).message });
    }
  });
  return out;
}

/** What one run's sections allow together: engine and scheme, namespaces, faults, protocol. */
function runProblems(r: RunSpec): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const where = r.variant ? `variant "${r.variant}": ` : '';
  if (r.isolation === 'netns' && r.target.url !== undefined) {
    problems.push({
      path: 'isolation',
      message: 'an external server (target.url) cannot be moved into a namespace; use loopback',
    });
  }
  problems.push(...faultProblems(r, where));
  problems.push(...clientProtocolProblems(r, where));
  if (r.isolation !== 'loopback') return problems;
  for (const [side, section] of [
    ['target', r.target],
    ['client', r.client],
    ['proxy', r.proxy ?? {}],
  ] as const) {
    if (section.sysctls && Object.keys(section.sysctls).length > 0) {
      problems.push({
        path: `${r.variant ? `variant "${r.variant}": ` : ''}${side}.sysctls`,
        message: "kernel knobs need isolation: netns (the host's own sysctls are never touched)",
      });
    }
  }
  return problems;
}

/**
 * What the client speaks: the proxy's front with a proxy (which speaks HTTP/1.1 to the target),
 * else the built-in target's protocol or the external URL's scheme; checked against its engine.
 */
function clientProtocolProblems(r: RunSpec, where: string): FieldProblem[] {
  const at = (k: string) => `${where}client.${k}`;
  if (!r.proxy) {
    const protocol = protocolOf(r.target, r.client);
    const external = r.target.url !== undefined;
    const tls = r.target.url !== undefined ? isTls(r.target.url) : protocol === 'h2';
    return protocolProblems(protocol, tls, r.client, external, at);
  }
  const front = r.proxy.front ?? 'http1';
  const problems = protocolProblems(front, front === 'h2', r.client, false, at, 'proxy.front');
  if (r.target.url === undefined && (r.target.protocol ?? 'http1') !== 'http1') {
    problems.push({
      path: `${where}target.protocol`,
      message:
        'the proxies here speak HTTP/1.1 to the target: use target.protocol http1 behind a proxy, and proxy.front h2c or h2 for HTTP/2 from the client',
    });
  }
  if (front === 'h2' && r.proxy.config !== undefined && r.client.tls === undefined) {
    problems.push({
      path: `${where}client.tls`,
      message:
        "your proxy configuration's certificate: give client.tls.ca (its PEM), or rejectUnauthorized: false",
    });
  }
  return problems;
}

/** A race map drives its own trials against one server on loopback. */
function raceMapProblems(base: Scenario): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (base.variants.length > 0 || base.search) {
    out.push({
      path: 'raceMap',
      message: 'a race map runs one server: no variants, sweep or search with it',
    });
  }
  if (base.isolation !== 'loopback') {
    out.push({ path: 'isolation', message: 'a race map runs on loopback (isolation: loopback)' });
  }
  if (base.raceMap?.around === undefined && (base.target.url !== undefined || base.proxy)) {
    out.push({
      path: 'raceMap.around',
      message:
        "give the server's idle timeout to centre on (e.g. around: 75s for nginx's keepalive_timeout): only the built-in target's is known",
    });
  }
  if (
    base.raceMap?.around === undefined &&
    base.target.url === undefined &&
    base.target.keepAliveTimeout === 0
  ) {
    out.push({
      path: 'target.keepAliveTimeout',
      message: 'the target never closes an idle connection (0): give it an idle timeout to map',
    });
  }
  return out;
}

/** The scenario with its sweep's points as variants (a sweep and variants are one or the other). */
function withSweep(
  given: unknown,
  problems: FieldProblem[],
): { raw: unknown; sweep: ExpandedSweep | null } {
  const raw = asRecord(given);
  // A race map runs trials, not a load: the load section may be left out.
  if (raw.raceMap !== undefined && raw.load === undefined) {
    return withSweep({ ...raw, load: { requests: 1 } }, problems);
  }
  if (raw.sweep === undefined) return { raw: given, sweep: null };
  if (Array.isArray(raw.variants) && raw.variants.length > 0) {
    problems.push({
      path: 'sweep',
      message: 'a sweep makes the variants: give a sweep or variants, not both',
    });
    return { raw: given, sweep: null };
  }
  const sweep = expandSweep(raw.sweep, raw, scenarioSchema, problems);
  const { sweep: _, ...rest } = raw;
  return { raw: sweep ? { ...rest, variants: sweep.variants } : rest, sweep };
}

/** A swept value's problem named by the sweep's point, not by a variant the user never wrote. */
function renameSweptProblems(problems: FieldProblem[], sweep: ExpandedSweep): void {
  for (const p of problems) {
    const m = /^variants\.(\d+)\.(.*)$/.exec(p.path);
    const point = m ? sweep.points[Number(m[1])] : undefined;
    if (m && point) p.path = `sweep (${point.variant}): ${m[2]}`;
  }
}

/** A search runs the open loop against the scenario's thresholds, one run at a time. */
function searchProblems(base: Scenario, runs: RunSpec[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (runs.some((r) => r.thresholds.length === 0)) {
    out.push({
      path: 'search',
      message:
        'a search looks for the highest rate at which the thresholds hold: give thresholds, e.g. "summary.latency.p99 < 10ms"',
    });
  }
  if (base.variants.length > 0) {
    out.push({
      path: 'search',
      message: 'a search runs one scenario: no variants or sweep with it',
    });
  }
  if (base.load.requests !== undefined) {
    out.push({
      path: 'load.requests',
      message: 'a search runs each rate for a duration: use load.duration',
    });
  }
  return out;
}

/** Each fault checked by its own kind's schema; null when one is wrong (its problems added). */
function faultsOf(raw: unknown, at: string, problems: FieldProblem[]): Fault[] | null {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return null; // the scenario's own schema says so
  const out: Fault[] = [];
  let ok = true;
  raw.forEach((f, i) => {
    const schema = faultSchemaFor(f);
    const r = schema.safeParse(f);
    if (r.success) out.push(r.data);
    else {
      ok = false;
      problems.push(...issues(r.error, schema, `${at}.${i}`));
    }
  });
  return ok ? out : null;
}

/** What a run's faults need: namespaces, a proxy or a built-in target to act on, a time in the load. */
function faultProblems(r: RunSpec, where: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (r.faults.length > 0 && r.isolation !== 'netns') {
    out.push({
      path: `${where}faults`,
      message:
        "faults need isolation: netns (their rules live in the run's namespaces; the host's own ruleset is never touched)",
    });
  }
  r.faults.forEach((f, i) => {
    const at = `${where}faults.${i}`;
    const host = 'host' in f ? f.host : 'blackhole' in f ? f.blackhole : null;
    if (host === 'proxy' && !r.proxy) {
      out.push({
        path: `${at}.${'host' in f ? 'host' : 'blackhole'}`,
        message: 'there is no proxy in this run',
      });
    }
    if ('crash' in f && r.target.url !== undefined) {
      out.push({
        path: `${at}.crash`,
        message: 'only the built-in target can be crashed (target.url is yours)',
      });
    }
    const start = faultStart(f);
    const length = r.load.duration;
    if (length !== undefined && start >= length) {
      out.push({
        path: `${at}.${'at' in f ? 'at' : 'after'}`,
        message: `${start} ms is not within the load (${length} ms): a fault starts during the load`,
      });
    }
  });
  return out;
}

export async function loadScenario(path: string): Promise<DeepReadonly<ResolvedScenario>> {
  return resolveScenario(await loadConfigFile(path), `scenario ${path}`);
}
