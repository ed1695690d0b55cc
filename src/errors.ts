import type { ErrorMessage } from './record/ipc.js';
import { plain } from './text.js';

// One catalogue of every failure the tool reports, so messages, codes and exit codes stay stable
// for scripts and CI. Codes never change meaning once released; add new ones instead.

export const EXIT = {
  ok: 0,
  runtime: 1,
  badInput: 2,
  thresholds: 3,
  /** Ctrl-C (SIGINT); SIGTERM and SIGHUP end as a shell says a signal did, 128 + its number. */
  interrupted: 130,
  terminated: 143,
  hangUp: 129,
  /** The reader of stdout went away where stdout was the output (SIGPIPE's 128 + 13). */
  outputClosed: 141,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const CATALOGUE = {
  KAL_CONFIG_INVALID: { exit: EXIT.badInput, title: 'invalid configuration' },
  KAL_CONFIG_UNREADABLE: { exit: EXIT.badInput, title: 'cannot read configuration' },
  KAL_RESULT_UNREADABLE: { exit: EXIT.badInput, title: 'cannot read a result' },
  KAL_RESULTS_INCOMPARABLE: { exit: EXIT.badInput, title: 'cannot compare these results' },
  KAL_RESULTS_UNMERGEABLE: { exit: EXIT.badInput, title: 'cannot merge these results' },
  KAL_FLAG_INVALID: { exit: EXIT.badInput, title: 'invalid command line' },
  KAL_PORT_IN_USE: { exit: EXIT.badInput, title: 'port already in use' },
  KAL_ADDRESS_UNAVAILABLE: { exit: EXIT.badInput, title: 'cannot bind address' },
  KAL_URL_INVALID: { exit: EXIT.badInput, title: 'invalid URL' },
  KAL_TARGET_UNREACHABLE: { exit: EXIT.runtime, title: 'target unreachable' },
  KAL_CHILD_FAILED: { exit: EXIT.runtime, title: 'child process failed' },
  KAL_PROXY_MISSING: { exit: EXIT.badInput, title: 'proxy not installed' },
  KAL_TOOL_MISSING: { exit: EXIT.badInput, title: 'a tool the run needs is missing' },
  KAL_TLS_INVALID: { exit: EXIT.badInput, title: 'cannot use these TLS options' },
  KAL_RUN_STOPPED: { exit: EXIT.runtime, title: 'run stopped' },
  KAL_SAMPLER_UNAVAILABLE: { exit: EXIT.badInput, title: 'TCP sampler unavailable' },
  KAL_SAMPLER_FAILED: { exit: EXIT.runtime, title: 'TCP sampling failed' },
  KAL_TRACER_UNAVAILABLE: { exit: EXIT.badInput, title: 'kernel tracer unavailable' },
  KAL_PID_UNKNOWN: { exit: EXIT.badInput, title: 'no such process' },
  KAL_PERMISSION: { exit: EXIT.badInput, title: 'permission denied' },
  KAL_OUTPUT_UNWRITABLE: { exit: EXIT.badInput, title: 'cannot write there' },
  KAL_OUTPUT_FAILED: { exit: EXIT.runtime, title: 'writing an output failed' },
  KAL_INTERNAL: { exit: EXIT.runtime, title: 'internal error' },
} as const;

export type ErrorCode = keyof typeof CATALOGUE;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(CATALOGUE, code);
}

/** One problem with one field; `path` is dotted (`target.keepAliveTimeout`) or a flag name. */
export interface FieldProblem {
  path: string;
  message: string;
}

export class LabError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly problems: readonly FieldProblem[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { problems?: FieldProblem[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    this.exitCode = CATALOGUE[code].exit;
    this.problems = Object.freeze([...(options.problems ?? [])]);
  }

  /** The error as a child process sends it to its parent. */
  toMessage(): ErrorMessage {
    return {
      type: 'error',
      code: this.code,
      message: this.message,
      problems: this.problems.map((p) => ({ ...p })),
    };
  }

  /** A child's error, `what` naming the child ("target", "driver", "sampler"). */
  static fromMessage(msg: ErrorMessage, what: string): LabError {
    return new LabError(
      isErrorCode(msg.code) ? msg.code : 'KAL_CHILD_FAILED',
      `${what}: ${msg.message}`,
      {
        problems: msg.problems,
      },
    );
  }

  /** The text a person sees: no stack, one line per problem, each naming its field. */
  /** For the terminal: what the user gave in it (a path, a name) cannot drive the terminal. */
  render(): string {
    const head = `keepalive-lab: ${CATALOGUE[this.code].title}: ${plain(this.message)} [${this.code}]`;
    if (this.problems.length === 0) return head;
    const lines = this.problems.map((p) => `  - ${plain(p.path)}: ${plain(p.message)}`);
    return [head, ...lines].join('\n');
  }
}

export function isLabError(err: unknown): err is LabError {
  return err instanceof LabError;
}
