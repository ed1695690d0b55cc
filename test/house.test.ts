import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The house rules hold because a tool holds them, and the tool is shown to catch a planted
// violation: Biome, with this project's own configuration, on a small tree of planted files
// (run/ importing merge/, results/ importing analysis/, a function of 101 lines), each beside a
// clean twin that must pass. And no engine's name is compared outside src/driver/engines/.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIOME = join(ROOT, 'node_modules/.bin/biome');

/** Biome's findings (rule names) on `files` laid out under a fresh tree with our configuration. */
function lint(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kal-house-'));
  copyFileSync(join(ROOT, 'biome.json'), join(dir, 'biome.json'));
  copyFileSync(join(ROOT, '.gitignore'), join(dir, '.gitignore'));
  spawnSync('git', ['init', '-q', dir]);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const r = spawnSync(BIOME, ['lint', '.'], { cwd: dir, encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

const longFunction = (lines: number) =>
  `export function f(): number {\n  let a = 0;\n${'  a += 1;\n'.repeat(lines - 4)}  return a;\n}\n`;

describe('the house rules are held by a tool that catches a planted violation', () => {
  const cases: [string, Record<string, string>, Record<string, string>, RegExp][] = [
    [
      'run/ may not import merge/',
      {
        'src/merge/run.ts': 'export const m = 1;\n',
        'src/run/planted.ts': "import { m } from '../merge/run.js';\n\nexport const x = m;\n",
      },
      {
        'src/reduce/fold.ts': 'export const m = 1;\n',
        'src/run/planted.ts': "import { m } from '../reduce/fold.js';\n\nexport const x = m;\n",
      },
      /noRestrictedImports/,
    ],
    [
      'results/ may not import analysis/',
      {
        'src/analysis/finish.ts': 'export const a = 1;\n',
        'src/results/planted.ts':
          "import { a } from '../analysis/finish.js';\n\nexport const x = a;\n",
      },
      {
        'src/record/run.ts': 'export const a = 1;\n',
        'src/results/planted.ts': "import { a } from '../record/run.js';\n\nexport const x = a;\n",
      },
      /noRestrictedImports/,
    ],
    [
      'no function in src/ over 100 lines',
      { 'src/cli/planted.ts': longFunction(103) },
      { 'src/cli/planted.ts': longFunction(99) },
      /noExcessiveLinesPerFunction/,
    ],
  ];
  for (const [rule, planted, clean, finding] of cases) {
    it(rule, () => {
      assert.match(lint(planted), finding, 'the planted violation is found');
      assert.doesNotMatch(lint(clean), finding, 'its clean twin passes');
    });
  }

  it('no engine name is compared outside src/driver/engines/ (each engine owns its rules)', () => {
    const src = join(ROOT, 'src');
    const compared =
      /\.engine\s*[!=]==\s*['"]|['"](undici|net|http|http2|autocannon)['"]\s*[!=]==\s*[\w.]*engine\b/;
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) {
          if (!path.endsWith(join('driver', 'engines'))) walk(path);
        } else if (e.name.endsWith('.ts')) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (compared.test(line))
                found.push(`${path.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(src);
    assert.deepEqual(found, []);
    assert.ok(compared.test("if (c.engine === 'net')"), 'the pattern finds a comparison');
  });
});
