import { z } from 'zod';
import type { SysctlName } from '../record/tcp.js';

/**
 * Per-side kernel knobs, applied inside that side's network namespace (isolation: netns): one
 * validator for each knob of the tool's list (src/record/tcp.ts), which the compiler holds equal.
 */
const sysctlValues = {
  tcp_tw_reuse: z
    .union([z.literal(0), z.literal(1), z.literal(2)], {
      error: 'must be 0 (off), 1 (on) or 2 (loopback only, the default)',
    })
    .optional(),
  ip_local_port_range: z
    .string()
    .regex(/^\s*\d+\s+\d+\s*$/, { error: 'two port numbers, e.g. "40000 40999"' })
    // The kernel refuses a reversed or out-of-range pair when the run sets it: refused here, so
    // --dry-run says what the run would.
    .refine(
      (v) => {
        const [lo = 0, hi = 0] = v.trim().split(/\s+/).map(Number);
        return lo >= 1 && hi <= 65535 && lo <= hi;
      },
      { error: 'the first port must not be above the second, both from 1 to 65535' },
    )
    .optional(),
  tcp_max_tw_buckets: z.number().int().min(0).optional(),
  tcp_fin_timeout: z.number().int().min(1).optional(),
  somaxconn: z.number().int().min(1).optional(),
  tcp_orphan_retries: z
    .number()
    .int()
    .min(0)
    .max(255)
    .optional()
    .describe('retransmits of an orphaned FIN before the socket is dropped (0 means 8)'),
  tcp_retries2: z
    .number()
    .int()
    .min(1)
    .max(255)
    .optional()
    .describe('retransmits of unacknowledged data before an established connection is dropped'),
  tcp_keepalive_time: z
    .number()
    .int()
    .min(1)
    .max(32767)
    .optional()
    .describe('s idle before the first probe'),
  tcp_keepalive_intvl: z.number().int().min(1).max(32767).optional().describe('s between probes'),
  tcp_keepalive_probes: z
    .number()
    .int()
    .min(1)
    .max(127)
    .optional()
    .describe('probes unanswered before the connection is dropped'),
} satisfies Record<SysctlName, z.ZodType>;
export const sysctlsSchema = z
  .strictObject(sysctlValues)
  .describe("kernel knobs for this side's network namespace (needs isolation: netns)");
