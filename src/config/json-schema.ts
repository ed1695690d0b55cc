import { z } from 'zod';
import { scenarioSchema } from './scenario.js';

/** The scenario file's JSON Schema, from the same zod schema that validates it. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'keepalive-lab scenario',
  };
}
