import { z } from 'zod';
import { parseThreshold } from '../thresholds/parse.js';
import { clientSchema, loadSchema } from './driver.js';
import { faultSchema } from './faults.js';
import { proxySchema } from './proxy.js';
import { raceMapSchema } from './race-map.js';
import { samplerSchema } from './sampler.js';
import { searchSchema } from './search.js';
import { sweepSchema } from './sweep.js';
import { sysctlsSchema } from './sysctls.js';
import { checkProtocolKnobs, checkTimeouts, targetKnobsSchema } from './target.js';
import { duration } from './units.js';
import { targetUrlProblem } from './url.js';

// The scenario file: one source for its types, its validation and configs/schema.json. Every key
// is optional but `load`. `target` holds the built-in target's knobs, or `url` (and optionally the
// server's `pid`) for an external server. `variants` are named overrides of the sections, run one
// after another and compared.

const targetShape = targetKnobsSchema.shape;
const KNOBS = Object.keys(targetShape);

export const targetSectionSchema = z
  .strictObject({
    ...targetShape,
    url: z
      .string({ error: 'expected an http(s) URL such as http://127.0.0.1:3000/' })
      .superRefine((raw, ctx) => {
        const problem = targetUrlProblem(raw);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('an external server to load instead of the built-in target'),
    pid: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("the external server's pid, so its side of the kernel can be sampled"),
    sysctls: sysctlsSchema.optional(),
  })
  .superRefine((t, ctx) => {
    checkTimeouts(t, ctx);
    checkProtocolKnobs(t, ctx);
    if (t.pid !== undefined && t.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['pid'],
        message: 'pid goes with url (an external server)',
      });
    }
  });

const thresholdSchema = z.string().transform((expr, ctx) => {
  try {
    return parseThreshold(expr);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const sections = {
  target: targetSectionSchema.prefault({}).describe('the target server'),
  client: clientSchema
    .extend({ sysctls: sysctlsSchema.optional() })
    .prefault({})
    .describe('the HTTP client and its pool'),
  sampler: samplerSchema.prefault({}).describe('the TCP sampler'),
  proxy: proxySchema
    .optional()
    .describe(
      'a real proxy (nginx or haproxy) between the client and the target: each leg measured on its own',
    ),
  faults: z
    .array(faultSchema)
    .default([])
    .describe(
      'faults on the wire (isolation: netns): segments dropped on one host, a host that vanishes, the target crashing',
    ),
  thresholds: z
    .array(thresholdSchema)
    .default([])
    .describe('checks on the result, e.g. "summary.latency.p99 < 50ms"; a breach exits with 3'),
};

/** A name shown on terminals and in markdown: free text, but nothing a terminal would obey. */
const nameSchema = z
  .string()
  .min(1)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: what it refuses
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, { error: 'must not contain control characters' });

export const variantSchema = z.strictObject({
  name: nameSchema.describe('shown in the comparison'),
  target: z.record(z.string(), z.unknown()).optional(),
  client: z.record(z.string(), z.unknown()).optional(),
  load: z.record(z.string(), z.unknown()).optional(),
  sampler: z.record(z.string(), z.unknown()).optional(),
  proxy: z.record(z.string(), z.unknown()).optional(),
  faults: z
    .array(z.unknown())
    .optional()
    .describe("the variant's faults, in place of the scenario's"),
  thresholds: z.array(z.string()).optional(),
});

export const scenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: nameSchema.default('scenario').describe('names the result files'),
  description: z.string().optional(),
  ...sections,
  load: loadSchema.describe('the load model (required, but in a race map)'),
  isolation: z
    .enum(['loopback', 'netns'])
    .default('loopback')
    .describe(
      "loopback: client and server share this machine's network namespace; netns: two namespaces joined by a veth pair, each with its own kernel knobs (needs root)",
    ),
  cpus: z
    .enum(['split', 'shared'])
    .default('split')
    .describe(
      "split: the target and the client run on CPUs of their own, as on two hosts (on one machine a response can wake the client on the server's CPU, which then closes first); shared: they share every CPU",
    ),
  output: z
    .strictObject({
      dir: z.string().default('results').describe('directory for result files'),
      json: z.string().optional().describe('exact path of the JSON result'),
      markdown: z.string().optional().describe('also write a markdown summary here'),
      html: z
        .string()
        .optional()
        .describe('also write the HTML report here (one file, opens offline)'),
      metrics: z
        .strictObject({
          port: z
            .number({ error: 'expected a port number from 0 to 65535' })
            .int()
            .min(0, { error: 'must be between 0 and 65535' })
            .max(65535, { error: 'must be between 0 and 65535' })
            .describe('serve Prometheus /metrics on this port during the run (0: any free port)'),
          host: z.string().min(1).default('127.0.0.1').describe('the address /metrics listens on'),
          grace: duration({ max: 3_600_000 })
            .default(15_000)
            .describe(
              'keep serving this long after the run, so the last interval is scraped (at least the scrape interval)',
            ),
        })
        .optional()
        .describe('Prometheus /metrics while the run lasts (also: run --metrics-port)'),
    })
    .prefault({}),
  sweep: sweepSchema.optional(),
  search: searchSchema.optional(),
  raceMap: raceMapSchema.optional(),
  variants: z
    .array(variantSchema)
    .default([])
    .describe('named overrides run one after another')
    // compare pairs variants by name: two of one name would be pooled as one.
    .superRefine((vs, ctx) => {
      const seen = new Set<string>();
      vs.forEach((v, i) => {
        if (seen.has(v.name)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `"${v.name}" is the name of an earlier variant: give each variant a name of its own`,
          });
        }
        seen.add(v.name);
      });
    }),
});

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type TargetSection = z.output<typeof targetSectionSchema>;
export const clientSectionSchema = scenarioSchema.shape.client.unwrap();
export type ClientSection = z.output<typeof clientSectionSchema>;
export type Sysctls = z.output<typeof sysctlsSchema>;
export { sysctlsSchema };

/** Keys of the built-in target that mean nothing for an external server. */
export function knobsGiven(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object') return [];
  return Object.keys(raw).filter((k) => KNOBS.includes(k) && k !== 'host' && k !== 'port');
}
