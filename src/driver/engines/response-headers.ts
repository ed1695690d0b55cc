// Reads the two connection-management headers of a response from undici's raw header list
// (Buffers, name then value) without turning every header into a string: both names are ten
// bytes long, so one length check skips the rest.

const KEEP_ALIVE = Buffer.from('keep-alive');
const CONNECTION = Buffer.from('connection');

export interface HeaderSink {
  headers(keepAlive: string | null, connectionClose: boolean): void;
}

let lastHint: Buffer | null = null;
let lastHintText = '';

export function readConnectionHeaders(raw: readonly Buffer[], sink: HeaderSink): void {
  let hint: string | null = null;
  let close = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as Buffer;
    if (name.length !== 10) continue;
    const value = raw[i + 1] as Buffer;
    if (sameLower(name, KEEP_ALIVE)) {
      // Servers send the same hint on every response: build its string once.
      if (lastHint === null || !lastHint.equals(value)) {
        lastHint = Buffer.from(value);
        lastHintText = value.toString('latin1').trim();
      }
      hint = lastHintText;
    } else if (sameLower(name, CONNECTION)) {
      close = /\bclose\b/i.test(value.toString('latin1'));
    }
  }
  sink.headers(hint, close);
}

/** `name` equals the lower-case ASCII `lower`, ignoring the case of letters. */
function sameLower(name: Buffer, lower: Buffer): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((name[i] as number) | 0x20) !== lower[i]) return false;
  }
  return true;
}
