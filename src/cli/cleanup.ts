import { Command } from 'commander';

// `keepalive-lab cleanup`: removes what a killed run left behind: network namespaces named
// kal-<id>-c / kal-<id>-s, the processes inside them and (with them) the veth pair, and tracing
// instances named kal-<id>, proxies (and their directories) named kal-proxy-*. Nothing else, and
// nothing a live run still uses: each has a record of its owning process (src/owners.ts).
export function cleanupCommand(): Command {
  return new Command('cleanup')
    .description(
      'remove namespaces, veth pairs, processes and tracing instances left by killed runs',
    )
    .action(async () => {
      const { cleanupNetns } = await import('../isolation/netns.js');
      const { cleanupInstances } = await import('../sampler/tracer/tracefs.js');
      const { cleanupProxies } = await import('../children/proxy-child.js');
      const { forgetDead } = await import('../owners.js');
      // Proxies first: cleaning namespaces needs root, a proxy on this machine's does not.
      const proxies = await cleanupProxies();
      const netns = await cleanupNetns();
      const instances = cleanupInstances();
      const removed = [
        ...netns.removed,
        ...proxies.removed,
        ...instances.removed.map((n) => `trace instance ${n}`),
      ];
      const kept = [
        ...netns.kept,
        ...proxies.kept,
        ...instances.kept.map((n) => `trace instance ${n}`),
      ];
      forgetDead();
      process.stdout.write(
        `${removed.length === 0 ? 'nothing to clean up' : `removed ${removed.join(', ')}`}\n${
          kept.length > 0 ? `left ${kept.join(', ')}: a live run uses them\n` : ''
        }`,
      );
    });
}
