import { Command } from 'commander';
import type { DoctorReport } from '../run/doctor.js';
import { plain } from '../text.js';

// `keepalive-lab doctor`: what this host offers before a run, and what the product does without
// each thing it lacks. Exit 0 when every capability is there (a refused tuning costs reads or
// buffer space only, and is listed), 1 when one is missing, as `brew doctor` does.

const MARK = { ok: '✓', refused: '~', missing: '✗' } as const;

export function doctorText(r: DoctorReport): string {
  const lines = [`keepalive-lab doctor — kernel ${plain(r.kernel)}`];
  for (const c of r.checks) {
    lines.push(`  ${MARK[c.status]} ${plain(c.name)}: ${plain(c.found)}`);
    if (c.without) lines.push(`      without it: ${plain(c.without)}`);
  }
  lines.push(
    r.ok
      ? 'everything the product measures with is here'
      : 'some capabilities are missing: runs do what is listed under "without it"',
  );
  return `${lines.join('\n')}\n`;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description(
      "what this host offers a run: root, the kernel tracer and each tuning it prefers, the sampler's sources, nft, namespaces, CPUs, the TIME_WAIT knobs, Node and libuv",
    )
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { doctor } = await import('../run/doctor.js');
      const report = await doctor();
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : doctorText(report));
      if (!report.ok) process.exitCode = 1;
    });
}
