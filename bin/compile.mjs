// Compiles Tollgate's TypeScript sources into plain ESM once per change of the sources, so
// `tollgate` runs JavaScript without a loader hook: tsx's hooks run in a second V8 isolate on
// their own thread (~30 MB of RSS for the life of the process) and its output wraps every
// function in a `__name` call. Why and what it measured: docs/gateway.md, "How the gateway
// process runs".
//
// The output lives in node_modules/.cache/tollgate/<fingerprint>/, keyed by the sources' paths,
// sizes and modification times, so an edited file is compiled on the next start. It is code-split
// at dynamic imports, so what is loaded lazily (PGlite) stays lazy. `import.meta.url` is replaced
// by each source file's own URL, so files found relative to a source (migrations, the price
// catalog, package.json) are found where they are.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function fingerprint(root) {
  const SRC = path.join(root, 'src');
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.test.ts')) {
        const s = statSync(p);
        h.update(`${path.relative(SRC, p)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  walk(SRC);
  h.update(readFileSync(path.join(root, 'package.json')));
  h.update(readFileSync(new URL('./compile.mjs', import.meta.url)));
  return h.digest('hex').slice(0, 16);
}

const importMetaUrl = {
  name: 'import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
      loader: 'ts',
    }));
  },
};

/** The compiled entry point for `<root>/src/<entry>`, compiled first when the sources changed. */
export async function compiled(entry = 'cli/main.ts', root = ROOT) {
  const SRC = path.join(root, 'src');
  const CACHE = path.join(root, 'node_modules', '.cache', 'tollgate');
  const out = path.join(CACHE, fingerprint(root));
  const file = path.join(out, entry.replace(/\.ts$/, '.js'));
  if (existsSync(file)) return file;
  const { build } = await import('esbuild');
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  await build({
    entryPoints: [path.join(SRC, entry)],
    outbase: SRC,
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    plugins: [importMetaUrl],
    logLevel: 'error',
  });
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process compiled the same sources first
  }
  // Older compilations are of no use once the sources moved on (left alone for a while, in case
  // a process started from one has yet to load a lazy part of it).
  for (const d of readdirSync(CACHE)) {
    const p = path.join(CACHE, d);
    if (d !== path.basename(out) && Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
  }
  return file;
}
