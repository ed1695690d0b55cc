import type { DropRule, Segment } from '../config/faults.js';

// nftables rules for faults on the wire, as text for `nft` inside the run's namespaces. The table
// is the run's own (inet kal_faults) in a namespace the run made, so the host's ruleset is never
// touched and the rules go when the namespace does. Every drop happens where a segment arrives
// (prerouting, before anything else sees it): a segment dropped where it leaves (output,
// postrouting, even a device's egress) is a local drop the sender's TCP is told of, which it
// counts and answers otherwise than a loss on the wire (measured here: a server's FIN dropped on
// its own output was never retransmitted, TcpRetransSegs 0). So "leaving the server" is dropped
// as it arrives at the server's peers, by its source address. Segments are told apart by their flags
// and, for payload, by length: nftables cannot subtract the header lengths, so a segment counts as
// carrying data when its IP packet is longer than the largest header a pure ACK can have (20 bytes
// of IP, 60 of TCP with options). A FIN that rides on the last data segment is one segment: a
// rule for FINs drops the data with it (the kernel's record then shows data retransmitted too).

export const TABLE = 'kal_faults';
/** Longest IPv4 + TCP header (options included): a longer packet carries payload. */
const MAX_HEADERS = 80;

const MATCH: Readonly<Record<Segment, string>> = {
  fin: 'tcp flags & fin == fin',
  rst: 'tcp flags & rst == rst',
  syn: 'tcp flags & (syn | ack) == syn',
  synack: 'tcp flags & (syn | ack) == syn | ack',
  data: `tcp flags & (syn | rst) == 0 meta length > ${MAX_HEADERS}`,
  ack: `tcp flags & (syn | fin | rst) == 0 meta length <= ${MAX_HEADERS}`,
  // A pure ACK of a flow whose FIN this host sent and which no ACK has acknowledged yet (below).
  finack: `tcp flags & (syn | fin | rst) == 0 meta length <= ${MAX_HEADERS} ${'ip saddr . tcp sport . tcp dport'} @finsent`,
  all: 'meta l4proto tcp',
};

/**
 * The table: a chain for every segment arriving at the host, before conntrack; and, for `finack`,
 * a chain for segments leaving it that notes each flow whose FIN it sends (as the peer's ACK will
 * name it) in `finsent`, once: the first ACK of that FIN is dropped and the flow moved to
 * `finacked`, so the FIN's retransmit is acknowledged and the connection can end.
 */
export function tableText(): string {
  const set = (name: string) =>
    `  set ${name} { type ipv4_addr . inet_service . inet_service; flags dynamic,timeout; timeout 5m; }`;
  return [
    `table inet ${TABLE} {`,
    set('finsent'),
    set('finacked'),
    '  chain pre { type filter hook prerouting priority -300; policy accept; iifname "lo" accept; }',
    '  chain out { type filter hook output priority -300; policy accept; oifname "lo" accept; }',
    '}',
  ].join('\n');
}

const FLOW_OUT = 'ip daddr . tcp dport . tcp sport';
const FLOW_IN = 'ip saddr . tcp sport . tcp dport';

/** A rule line and the chain it goes in. */
export interface RuleLine {
  chain: 'pre' | 'out';
  line: string;
}

/** How many of the matching segments a rule drops, as an nft expression (empty: every one). */
function howMany(rule: DropRule): string {
  if (rule.probability !== undefined) {
    // In hundredths of a percent: 0.5 is 5000 of 10000.
    return `numgen random mod 10000 < ${Math.round(rule.probability * 10_000)}`;
  }
  // numgen inc counts only the segments that reached it (expressions stop at the first mismatch).
  if (rule.every !== undefined) return `numgen inc mod ${rule.every} == ${rule.every - 1}`;
  if (rule.first !== undefined) return `numgen inc mod 4294967295 < ${rule.first}`;
  return '';
}

/** `ip saddr` for segments from one host (its addresses), or nothing for every arriving one. */
const from = (addresses: readonly string[] | null) =>
  addresses ? `ip saddr { ${addresses.join(', ')} }` : '';

/**
 * One `add rule` line per segment kind the rule names, for the namespace it goes in: the host's
 * own for segments arriving at it (`from` null), a peer's for those leaving it (`from` its
 * addresses). Each counts what it drops.
 */
export function ruleLines(rule: DropRule, addresses: readonly string[] | null): RuleLine[] {
  const n = howMany(rule);
  return rule.segments.flatMap((s): RuleLine[] => {
    const drop = (extra: string[] = []) =>
      [
        `add rule inet ${TABLE} pre`,
        from(addresses),
        'meta l4proto tcp',
        MATCH[s],
        n,
        ...extra,
        'counter drop',
      ]
        .filter(Boolean)
        .join(' ');
    if (s !== 'finack') return [{ chain: 'pre', line: drop() }];
    return [
      {
        chain: 'out',
        line: `add rule inet ${TABLE} out meta l4proto tcp tcp flags & fin == fin ${FLOW_OUT} != @finacked add @finsent { ${FLOW_OUT} }`,
      },
      {
        chain: 'pre',
        line: drop([`add @finacked { ${FLOW_IN} }`, `delete @finsent { ${FLOW_IN} }`]),
      },
    ];
  });
}

/** The host gone from the wire: everything arriving at it (null) or at a peer from it. */
export function blackholeLines(addresses: readonly string[] | null): RuleLine[] {
  return [
    {
      chain: 'pre',
      line: [`add rule inet ${TABLE} pre`, from(addresses), 'counter drop']
        .filter(Boolean)
        .join(' '),
    },
  ];
}
