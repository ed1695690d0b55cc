import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The catalogue by name: `keepalive-lab run demo` finds configs/demo.yaml wherever the CLI is
// installed; a path (anything that exists, or has a slash or an extension) still wins.

/** configs/ beside the installed package: dist/src/cli/ is three levels below it. */
export const CATALOGUE_DIR = fileURLToPath(new URL('../../../configs/', import.meta.url));

/** The scenario file an argument names: the path itself, or a catalogue entry of that name. */
export function scenarioPath(arg: string): string {
  if (existsSync(arg) || /[/\\]|\.(ya?ml|json)$/i.test(arg)) return arg;
  const inCatalogue = join(CATALOGUE_DIR, `${arg}.yaml`);
  return existsSync(inCatalogue) ? inCatalogue : arg;
}

/** The first line of a file's leading comment (after the schema line): what it shows. */
function summaryOf(text: string): string {
  const lines = text.split('\n');
  const comment = lines
    .filter((l, i) => l.startsWith('#') && !l.includes('yaml-language-server') && i < 20)
    .map((l) => l.replace(/^#\s?/, ''));
  const first = comment.join(' ').split(/(?<=\.)\s/)[0] ?? '';
  return first.length > 110 ? `${first.slice(0, 107)}…` : first;
}

/** One line per catalogue scenario: its name, its kind (a command other than run), what it shows. */
export function catalogueList(): string {
  const files = readdirSync(CATALOGUE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const rows = files.map((f) => {
    const text = readFileSync(join(CATALOGUE_DIR, f), 'utf8');
    const name = f.replace(/\.yaml$/, '');
    const kind = /^raceMap:/m.test(text)
      ? ' (race-map)'
      : /^search:/m.test(text)
        ? ' (search)'
        : /^sweep:/m.test(text)
          ? ' (sweep)'
          : '';
    return [`${name}${kind}`, summaryOf(text)] as const;
  });
  const width = Math.max(...rows.map(([n]) => n.length));
  return `${rows.map(([n, s]) => `${n.padEnd(width)}  ${s}`).join('\n')}\n\nrun one by name: keepalive-lab run NAME (race maps: keepalive-lab race-map NAME)`;
}
