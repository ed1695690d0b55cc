import type { RaceWindow } from '../record/race-map.js';

// What users sit behind: the documented idle timeouts of the balancers, proxies and clients that
// reuse idle connections to a backend (their backend-facing side), each checked at the source in
// 2026 (README: "What users sit behind"). A measured server's idle close is read against one:
// a peer that keeps an idle connection for longer than the server does sends requests into the
// race. These are other products' defaults, never this tool's measurements of them.

export interface IdlePeer {
  name: string;
  /** How long it keeps an idle connection to its backend before dropping it itself, ms. */
  idleMs: number;
  /** Whether it reads the backend's Keep-Alive: timeout hint (and by how much it undercuts it). */
  obeysHintMarginMs: number | null;
  setting: string;
}

export const IDLE_PEERS: Record<string, IdlePeer> = {
  'aws-alb': {
    name: 'AWS ALB',
    idleMs: 60_000,
    obeysHintMarginMs: null,
    setting: 'idle_timeout.timeout_seconds',
  },
  'aws-elb': {
    name: 'AWS Classic ELB',
    idleMs: 60_000,
    obeysHintMarginMs: null,
    setting: 'ConnectionSettings.IdleTimeout',
  },
  'aws-cloudfront': {
    name: 'AWS CloudFront (to the origin)',
    idleMs: 5_000,
    obeysHintMarginMs: null,
    setting: 'OriginKeepaliveTimeout',
  },
  'gcp-lb': {
    name: 'Google Cloud external Application LB (to backends)',
    idleMs: 600_000,
    obeysHintMarginMs: null,
    setting: 'fixed',
  },
  cloudflare: {
    name: 'Cloudflare (to the origin)',
    idleMs: 900_000,
    obeysHintMarginMs: null,
    setting: 'Proxy Idle Timeout',
  },
  'nginx-upstream': {
    name: 'nginx upstream keepalive',
    idleMs: 60_000,
    obeysHintMarginMs: null,
    setting: 'keepalive_timeout (upstream)',
  },
  envoy: {
    name: 'Envoy (upstream)',
    idleMs: 3_600_000,
    obeysHintMarginMs: null,
    setting: 'idle_timeout',
  },
  'go-transport': {
    name: 'Go http.DefaultTransport',
    idleMs: 90_000,
    obeysHintMarginMs: null,
    setting: 'IdleConnTimeout',
  },
  undici: {
    name: 'undici (Node fetch)',
    idleMs: 4_000,
    obeysHintMarginMs: 2_000,
    setting: 'keepAliveTimeout',
  },
  'node-agent': {
    name: "Node's http.globalAgent",
    idleMs: 5_000,
    obeysHintMarginMs: 1_000,
    setting: 'timeout',
  },
};

export const IDLE_PEER_NAMES = Object.keys(IDLE_PEERS);

export interface BehindVerdict {
  peer: string;
  peerIdleMs: number;
  /** Whether the peer would reuse connections past the server's idle close. */
  races: boolean;
  message: string;
}

/**
 * The server's idle close, as measured (the window's start, else the timeout asked about when no
 * request failed), against how long the peer reuses idle connections.
 */
export function behind(
  key: string,
  window: RaceWindow | null,
  aroundMs: number,
  hintSeconds: number | null,
): BehindVerdict | null {
  const peer = IDLE_PEERS[key];
  if (!peer) return null;
  const closeMs = window?.firstMs ?? aroundMs;
  // A peer that obeys the hint stops reusing at the hint less its margin, where that is shorter.
  const obeyed =
    peer.obeysHintMarginMs !== null && hintSeconds !== null
      ? Math.min(peer.idleMs, hintSeconds * 1000 - peer.obeysHintMarginMs)
      : peer.idleMs;
  const races = obeyed >= closeMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 0)} s`;
  const message = races
    ? `${peer.name} reuses idle connections for up to ${s(obeyed)} (${peer.setting}); this server closes them at ${s(closeMs)}${window ? ` (failures measured from ${s(window.firstMs)}, ${window.widthMs.toFixed(3)} ms wide)` : ''}: it will send requests into the race. Give the server an idle timeout above ${s(obeyed)}`
    : `${peer.name} drops idle connections after ${s(obeyed)} (${peer.setting}), before this server's ${s(closeMs)}: it does not race`;
  return { peer: peer.name, peerIdleMs: obeyed, races, message };
}
