import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// Runs a table-reading tool, in another namespace when given a prefix. Tables of 50,000 sockets
// print megabytes, hence the large buffer.

const run = promisify(execFile);

export async function readTool(argv: readonly string[]): Promise<string> {
  const { stdout } = await run(argv[0] as string, argv.slice(1), { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}
