import type { ProxyKnobs } from '../config/proxy.js';
import type { DeepReadonly } from '../config/resolve.js';

// The proxy's configuration, generated from the scenario's knobs: pure, so a test (and
// `run --dry-run`) can read exactly what the proxy is given. A knob left out is left out of the
// file too, so the proxy's own default applies, except where a default would make a test
// machine's proxy misbehave (nginx's temp paths and pid file, HAProxy's missing timeouts).

export interface ProxyPlacement {
  /** Where the proxy listens (the front leg's server side). */
  listen: { host: string; port: number };
  /** The target it forwards to (the back leg's server side). */
  target: { host: string; port: number };
  /** A directory of the proxy's own for its pid file, logs and temporary files. */
  dir: string;
}

/** front h2: the throwaway certificate and its key, one PEM file in the proxy's directory. */
export const frontPem = (dir: string) => `${dir}/front.pem`;

/** nginx's listen line for the front: http2 (>= 1.9.5; `http2 on;` only from 1.25.1). */
function nginxListen(k: DeepReadonly<ProxyKnobs>, at: ProxyPlacement): string[] {
  const listen = `    listen ${hostPort(at.listen)}`;
  if (k.front === 'h2c') return [`${listen} http2;`];
  if (k.front !== 'h2') return [`${listen};`];
  return [
    `${listen} ssl http2;`,
    `    ssl_certificate ${frontPem(at.dir)};`,
    `    ssl_certificate_key ${frontPem(at.dir)};`,
  ];
}

/** HAProxy's bind line for the front: `proto h2` is h2c by prior knowledge; ALPN over TLS. */
function haproxyBind(k: DeepReadonly<ProxyKnobs>, at: ProxyPlacement): string {
  const bind = `  bind ${hostPort(at.listen)}`;
  if (k.front === 'h2c') return `${bind} proto h2`;
  if (k.front === 'h2') return `${bind} ssl crt ${frontPem(at.dir)} alpn h2,http/1.1`;
  return bind;
}

const seconds = (ms: number) => `${Math.max(0, Math.round(ms))}ms`;
const hostPort = (a: { host: string; port: number }) =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export function nginxConfig(k: DeepReadonly<ProxyKnobs>, at: ProxyPlacement): string {
  const u = k.upstream ?? {};
  const lines = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${at.dir}/nginx.pid;`,
    `error_log ${at.dir}/error.log warn;`,
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${at.dir}/body;`,
    `  proxy_temp_path ${at.dir}/proxy;`,
    ...(k.keepaliveTimeout !== undefined
      ? [`  keepalive_timeout ${seconds(k.keepaliveTimeout)};`]
      : []),
    ...(k.keepaliveRequests !== undefined ? [`  keepalive_requests ${k.keepaliveRequests};`] : []),
    '  upstream target {',
    `    server ${hostPort(at.target)};`,
    ...(u.keepalive ? [`    keepalive ${u.keepalive};`] : []),
    ...(u.keepaliveRequests !== undefined
      ? [`    keepalive_requests ${u.keepaliveRequests};`]
      : []),
    ...(u.keepaliveTimeout !== undefined
      ? [`    keepalive_timeout ${seconds(u.keepaliveTimeout)};`]
      : []),
    '  }',
    '  server {',
    ...nginxListen(k, at),
    '    location / {',
    '      proxy_pass http://target;',
    ...(u.httpVersion !== undefined ? [`      proxy_http_version ${u.httpVersion};`] : []),
    ...(u.connection !== undefined ? [`      proxy_set_header Connection "${u.connection}";`] : []),
    '    }',
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

export function haproxyConfig(k: DeepReadonly<ProxyKnobs>, at: ProxyPlacement): string {
  const t = k.timeouts ?? {};
  const lines = [
    'global',
    // Two descriptors a connection must fit the soft limit (often 1024 or 20000 on a test machine).
    '  maxconn 4096',
    `  pidfile ${at.dir}/haproxy.pid`,
    'defaults',
    '  mode http',
    ...(k.mode !== undefined ? [`  option ${k.mode}`] : []),
    ...(k.httpReuse !== undefined ? [`  http-reuse ${k.httpReuse}`] : []),
    // HAProxy has no timeouts unless given (and warns): these are its documentation's examples.
    `  timeout client ${seconds(t.client ?? 30_000)}`,
    `  timeout server ${seconds(t.server ?? 30_000)}`,
    `  timeout connect ${seconds(t.connect ?? 5_000)}`,
    ...(t.httpKeepAlive !== undefined
      ? [`  timeout http-keep-alive ${seconds(t.httpKeepAlive)}`]
      : []),
    'frontend front',
    haproxyBind(k, at),
    '  default_backend back',
    'backend back',
    `  server target ${hostPort(at.target)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The command that runs the proxy in the foreground with `file`. A user's own nginx file is kept
 * in the foreground and its pid file in the run's directory from the command line (so the file
 * must not set `daemon` or `pid`); HAProxy's -db does both for any file.
 */
export function proxyCommand(
  kind: ProxyKnobs['kind'],
  file: string,
  dir: string,
  own: boolean,
): string[] {
  if (kind === 'haproxy') return ['haproxy', '-db', '-f', file];
  return [
    'nginx',
    '-p',
    dir,
    '-c',
    file,
    ...(own ? ['-g', `daemon off; pid ${dir}/nginx.pid;`] : []),
  ];
}
