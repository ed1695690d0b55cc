import { Command } from 'commander';

// `keepalive-lab cleanup`: removes what a killed netns run left behind: namespaces named
// kal-<id>-c / kal-<id>-s, the processes inside them and (with them) the veth pair. Nothing else.
export function cleanupCommand(): Command {
  return new Command('cleanup')
    .description('remove network namespaces, veth pairs and processes left by killed netns runs')
    .action(async () => {
      const { cleanupNetns } = await import('../isolation/netns.js');
      const removed = await cleanupNetns();
      process.stdout.write(
        removed.length === 0 ? 'nothing to clean up\n' : `removed ${removed.join(', ')}\n`,
      );
    });
}
