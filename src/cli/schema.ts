import { Command } from 'commander';
import { scenarioJsonSchema } from '../config/json-schema.js';

// `keepalive-lab schema`: prints the scenario file's JSON Schema (configs/schema.json is this).
export function schemaCommand(): Command {
  return new Command('schema')
    .description("print the scenario file's JSON Schema (for editors)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
    });
}
