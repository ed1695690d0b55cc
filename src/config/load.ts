import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { MAX_SCENARIO_BYTES, unreadableBecause } from '../file-limits.js';

// Scenario files are YAML (JSON is YAML too). Parse errors name the file, line and column.

export async function loadConfigFile(path: string): Promise<unknown> {
  const why = await unreadableBecause(path, MAX_SCENARIO_BYTES);
  if (why) {
    throw new LabError('KAL_CONFIG_UNREADABLE', `${path} ${why}`, {
      problems: [{ path, message: 'give a scenario file (YAML or JSON)' }],
    });
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LabError('KAL_CONFIG_UNREADABLE', `${path}: ${code ?? String(err)}`, {
      problems: [{ path, message: 'check the path; scenario files are YAML or JSON' }],
      cause: err,
    });
  }
  // Loaded on first use: commands given no file never pay for the YAML parser.
  const { parseDocument } = await import('yaml');
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    // The parser recurses once per level of nesting: 50,000 `[` overflow its stack.
    if (err instanceof RangeError) throw tooDeep(path);
    throw err;
  }
  if (doc.errors.some((e) => /call stack/i.test(e.message))) throw tooDeep(path);
  if (doc.errors.length > 0) {
    throw new LabError('KAL_CONFIG_INVALID', `${path} is not valid YAML`, {
      problems: doc.errors.map((e) => ({
        path: `${path}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    });
  }
  try {
    // toJS expands aliases; the yaml library stops at a count no real scenario needs.
    return doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep(path);
    throw new LabError('KAL_CONFIG_INVALID', `${path} cannot be read as data`, {
      problems: [
        {
          path,
          message: /alias/i.test((err as Error).message)
            ? 'it expands YAML aliases (*name) far beyond what a scenario needs; write the values out'
            : (err as Error).message,
        },
      ],
    });
  }
}

const tooDeep = (path: string) =>
  new LabError('KAL_CONFIG_INVALID', `${path} is nested too deep to read`, {
    problems: [{ path, message: 'a scenario nests a few levels; write the values out flat' }],
  });
