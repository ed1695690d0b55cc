// Target URLs, as given on the command line (`drive URL`) or in a scenario (`target.url`): one
// check for both, and one way to show a URL without the credentials it may carry.

/** Why `raw` is not a URL the driver can load, or null if it is. */
export function targetUrlProblem(raw: string): string | null {
  const shown = redactUrl(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${shown}" is not a URL; give one such as http://127.0.0.1:3000/`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `"${shown}": use http:// or https://`;
  }
  // The URL parser reads "http:///foo" as host "foo"; a URL without a host is a typo.
  if (!/^https?:\/\/[^/?#\s]/i.test(raw.trim()) || url.hostname === '') {
    return `"${shown}" has no host; give one such as http://127.0.0.1:3000/`;
  }
  if (url.port === '0') return `"${shown}": port 0 cannot be connected to; give the server's port`;
  return null;
}

/** Where a URL points, read once: its host (no brackets), port (or the scheme's), path, authority. */
export interface Endpoint {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The path and query a request asks for. */
  readonly path: string;
  /** host[:port], as a Host header says it. */
  readonly authority: string;
}

export function endpointOf(raw: string): Endpoint {
  const url = new URL(raw);
  return {
    url: raw,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    path: `${url.pathname}${url.search}`,
    authority: url.host,
  };
}

/** The URL with any user name and password replaced, for everything that is printed or stored. */
export function redactUrl(raw: string | URL): string {
  if (raw instanceof URL) {
    if (!raw.username && !raw.password) return raw.href;
    const copy = new URL(raw.href);
    copy.username = '***';
    copy.password = '';
    return copy.href;
  }
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1***@');
}

/** `Authorization: Basic …` for credentials in the URL, as curl sends them; null without any. */
export function basicAuth(url: URL): string | null {
  if (!url.username && !url.password) return null;
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** Whether a URL or request headers carry a credential (a user in the URL, a secret header). */
export function carriesCredentials(
  raw: string | undefined,
  headers: Readonly<Record<string, string>> = {},
): boolean {
  const inUrl = raw !== undefined && redactUrl(raw) !== raw;
  return inUrl || Object.keys(headers).some((k) => SECRET_HEADERS.has(k.toLowerCase()));
}

/** A value to print or store: every `url` and `headers` in it with credentials replaced. */
export function redacted<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (key, v) =>
      (key === 'url' || key === 'targetUrl') && typeof v === 'string'
        ? redactUrl(v)
        : key === 'headers' && v && typeof v === 'object' && !Array.isArray(v)
          ? redactHeaders(v as Record<string, string>)
          : v,
    ),
  ) as T;
}

/** Request headers as they may be printed or stored: credentials replaced. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, SECRET_HEADERS.has(k.toLowerCase()) ? '***' : v]),
  );
}

/** Headers with the URL's credentials as an Authorization header, unless one is given. */
export function headersWithAuth(
  url: URL,
  headers: Readonly<Record<string, string>>,
): Record<string, string> {
  const auth = basicAuth(url);
  const given = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
  return auth && !given ? { ...headers, authorization: auth } : { ...headers };
}

/** The URL without its credentials (they travel as a header instead). */
export function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
