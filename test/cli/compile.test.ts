import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_DB } from '../helpers/db.ts';
// @ts-expect-error: a plain .mjs module of the bin folder, without type declarations
import { compiled } from '../../bin/compile.mjs';

const run = promisify(execFile);
const node = (file: string, args: string[] = []) => run(process.execPath, [file, ...args], { timeout: 60_000 });

describe.runIf(TEST_DB === 'pglite')('the compiled CLI (bin/compile.mjs)', () => {
  it('runs the sources as one compilation, finding files next to them, with PGlite still loaded lazily', async () => {
    const main: string = await compiled();
    expect(main).toContain(path.join('node_modules', '.cache', 'tollgate'));
    expect(await compiled()).toBe(main); // the same sources: the same compilation, not a new one
    const pkg = JSON.parse(await readFile('package.json', 'utf8'));
    expect((await node(main, ['--version'])).stdout.trim()).toBe(pkg.version); // read through import.meta.url
    const dir = path.dirname(path.dirname(main));
    const files = (await readdir(dir)).filter((f) => f.endsWith('.js'));
    const naming = [];
    for (const f of files) if ((await readFile(path.join(dir, f), 'utf8')).includes('@electric-sql/pglite')) naming.push(f);
    expect(naming.length).toBe(1);
    expect(naming[0]).toMatch(/^pglite-/); // only its own chunk, imported when PGlite is the store
  });

  it('compiles again when a source changes', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'tollgate-compile-'));
    await mkdir(path.join(root, 'src', 'cli'), { recursive: true });
    await writeFile(path.join(root, 'package.json'), JSON.stringify({ version: '9.9.9', type: 'module' }));
    const write = (word: string) =>
      writeFile(
        path.join(root, 'src', 'cli', 'main.ts'),
        `import { readFileSync } from 'node:fs';\nconst v: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;\nconsole.log('${word}', v);\n`,
      );
    await write('first');
    const a: string = await compiled('cli/main.ts', root);
    expect((await node(a)).stdout.trim()).toBe('first 9.9.9');
    await write('second!');
    const b: string = await compiled('cli/main.ts', root);
    expect(b).not.toBe(a);
    expect((await node(b)).stdout.trim()).toBe('second! 9.9.9');
  });
});
