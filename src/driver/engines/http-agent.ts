import { Agent } from 'node:http';

// What Node's http.Agent takes on this Node: its keep-alive hint buffer arrived in Node 24.7.

/** Whether this Node's http.Agent takes agentKeepAliveTimeoutBuffer (Node 24.7 and later). */
export const AGENT_HINT_BUFFER =
  'agentKeepAliveTimeoutBuffer' in (new Agent() as unknown as Record<string, unknown>);

/** The agent knob this Node does not have, with its fix; none where it has it. */
export function agentProblems(c: {
  readonly agent?: { readonly keepAliveTimeoutBuffer?: number | undefined } | undefined;
}): { key: string; message: string }[] {
  if (c.agent?.keepAliveTimeoutBuffer === undefined || AGENT_HINT_BUFFER) return [];
  return [
    {
      key: 'agent.keepAliveTimeoutBuffer',
      message: `Node ${process.versions.node} has no agentKeepAliveTimeoutBuffer (Node 24.7 and later have; earlier ones subtract 1s)`,
    },
  ];
}
