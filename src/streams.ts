// stdout or stderr going away (a reader that exits after one line: `| head -1`) is not a failure
// of the command: without a listener the stream's EPIPE is an uncaught error, a stack trace and
// exit 1 before any result file is written or any child is stopped. Here writes to a closed
// stream are dropped (Node discards them once the stream is destroyed; the error they raise is
// taken here), and a command whose output was the point hears of it (interrupt.ts).

type Closed = () => void;

const listeners = new Set<Closed>();
let stdoutClosed = false;

function guard(stream: NodeJS.WriteStream, onClosed: () => void): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // EPIPE the first time; ERR_STREAM_DESTROYED for every write after it. Anything else on a
    // standard stream is as lost as these: there is nowhere left to say it.
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') onClosed();
  });
}

function markStdoutClosed(): void {
  if (stdoutClosed) return;
  stdoutClosed = true;
  for (const l of [...listeners]) l();
}

/** Installed once, first thing, by the CLI's entry points. */
export function guardStandardStreams(): void {
  guard(process.stdout, markStdoutClosed);
  guard(process.stderr, () => {});
}

/** Calls `fn` once when stdout's reader goes away (now, if it has). Returns the undo. */
export function onStdoutClosed(fn: Closed): () => void {
  if (stdoutClosed) {
    queueMicrotask(fn);
    return () => {};
  }
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Writes `text` to stdout; false when its reader is gone (the text is lost), for a command whose
 * stdout was its result and whose exit code must say so.
 */
export function writeStdout(text: string): Promise<boolean> {
  if (stdoutClosed) return Promise.resolve(false);
  return new Promise((resolve) => {
    // The write's callback hears of EPIPE before the stream's 'error' event: told from here,
    // a listener knows before the caller goes on.
    process.stdout.write(text, (err) => {
      if (err) markStdoutClosed();
      resolve(!err && !stdoutClosed);
    });
  });
}

/** Whether stdout's reader has gone. */
export function stdoutIsClosed(): boolean {
  return stdoutClosed;
}
