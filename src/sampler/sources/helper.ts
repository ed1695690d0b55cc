import { type ChildProcess, spawn } from 'node:child_process';

// A table-reading helper that stays up and answers one command per line, each answer ended by a
// line "end" (kal-sockdiag --serve): a sampler asks every second, and starting a process for each
// sample cost it a few milliseconds of CPU every time (the fork of a large process, then exec),
// taken from the CPUs the load and the target share. One helper per argv (so per namespace); its
// stdin closes with the sampler's process, and it exits then. A helper that dies is started again
// at the next question; one that cannot start fails the question, as the tool itself would.

const END = '\nend\n';

interface Helper {
  child: ChildProcess;
  /** Answers waiting, in the order their commands were written. */
  waiting: { resolve: (text: string) => void; reject: (err: Error) => void }[];
  buffer: string;
}

const helpers = new Map<string, Helper>();

function start(argv: readonly string[], key: string): Helper {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const h: Helper = { child, waiting: [], buffer: '' };
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.stdout?.on('data', (chunk: string) => {
    h.buffer += chunk;
    for (;;) {
      // An empty answer is the line "end" alone; any other ends with "\nend\n".
      const at = h.buffer.startsWith('end\n') ? 0 : h.buffer.indexOf(END);
      if (at < 0) return;
      const text = at === 0 ? '' : h.buffer.slice(0, at + 1);
      h.buffer = h.buffer.slice(at === 0 ? 4 : at + END.length);
      h.waiting.shift()?.resolve(text);
      if (h.waiting.length === 0) hold(h, false);
    }
  });
  const fail = (why: string) => {
    if (helpers.get(key) === h) helpers.delete(key);
    for (const w of h.waiting.splice(0)) w.reject(new Error(why));
  };
  child.once('error', (err) => fail(`${argv.join(' ')}: ${err.message}`));
  child.once('exit', (code, signal) =>
    fail(
      `${argv.join(' ')} exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`,
    ),
  );
  child.stdin?.on('error', () => {}); // a helper gone mid-write: its exit says why
  // Idle, it must not keep the sampler's process alive; with a question out, it must.
  child.unref();
  for (const s of [child.stdin, child.stderr]) asSocket(s)?.unref?.();
  hold(h, false);
  return h;
}

const asSocket = (s: unknown) => s as { ref?: () => void; unref?: () => void } | null;

function hold(h: Helper, on: boolean): void {
  const out = asSocket(h.child.stdout);
  if (on) out?.ref?.();
  else out?.unref?.();
}

/** The helper's answer to one command (a line without its newline). */
export function askHelper(argv: readonly string[], command: string): Promise<string> {
  const key = argv.join('\0');
  let h = helpers.get(key);
  if (!h) {
    h = start(argv, key);
    helpers.set(key, h);
  }
  const helper = h;
  return new Promise<string>((resolve, reject) => {
    helper.waiting.push({ resolve, reject });
    hold(helper, true);
    helper.child.stdin?.write(`${command}\n`);
  });
}

/** Ends every helper (their stdin closes) and waits until they have exited. */
export async function closeHelpers(): Promise<void> {
  const all = [...helpers.values()];
  helpers.clear();
  await Promise.all(
    all.map(
      (h) =>
        new Promise<void>((resolve) => {
          if (h.child.exitCode !== null || h.child.signalCode !== null) return resolve();
          h.child.once('exit', () => resolve());
          // Waiting for it must hold the event loop open (it is unref'd while idle).
          h.child.ref();
          h.child.stdin?.end();
        }),
    ),
  );
}

/** The helpers running now (their CPU is the sampler's: see cpu.ts). */
export function helperPids(): number[] {
  return [...helpers.values()].flatMap((h) => (h.child.pid === undefined ? [] : [h.child.pid]));
}
