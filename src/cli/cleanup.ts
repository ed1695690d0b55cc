import { Command } from 'commander';

// `keepalive-lab cleanup`: removes what a killed run left behind: network namespaces named
// kal-<id>-c / kal-<id>-s, the processes inside them and (with them) the veth pair, and tracing
// instances named kal-<id>, proxies (and their directories) named kal-proxy-*. Nothing else.
export function cleanupCommand(): Command {
  return new Command('cleanup')
    .description(
      'remove namespaces, veth pairs, processes and tracing instances left by killed runs',
    )
    .action(async () => {
      const { cleanupNetns } = await import('../isolation/netns.js');
      const { cleanupInstances } = await import('../sampler/tracer/tracefs.js');
      const { cleanupProxies } = await import('../run/proxy-child.js');
      // Proxies first: cleaning namespaces needs root, a proxy on this machine's does not.
      const proxies = await cleanupProxies();
      const removed = [
        ...(await cleanupNetns()),
        ...proxies,
        ...cleanupInstances().map((n) => `trace instance ${n}`),
      ];
      process.stdout.write(
        removed.length === 0 ? 'nothing to clean up\n' : `removed ${removed.join(', ')}\n`,
      );
    });
}
