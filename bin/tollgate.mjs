#!/usr/bin/env -S node --single-threaded-gc --no-memory-reducer
// Runs the TypeScript sources compiled to plain JavaScript by ./compile.mjs (once per change of the
// sources), so `npm start` and `npx tollgate` need no build step. Where the compiled copy cannot be
// written (a read-only install), the sources run through tsx instead.
//
// The node flags above (docs/gateway.md, "How the gateway process runs"):
// --single-threaded-gc: V8's parallel and concurrent GC helper threads compete with the event
//   loop, PostgreSQL and the upstream for the same cores; on a 2-core box they doubled the
//   gateway's p99 added latency. Tollgate's heap is small (~40 MB), so collecting it on the main
//   thread costs less than sharing the cores.
// --no-memory-reducer: V8 otherwise shrinks the heap with full collections when the process
//   looks idle; on the main thread their last pause took up to 21 ms, and the next request after
//   a quiet spell waited for it.
// `npm start` passes the same flags, and bench:gateway starts the server with the flags on the line above.
import { pathToFileURL } from 'node:url';

let entry;
try {
  const { compiled } = await import('./compile.mjs');
  entry = await compiled();
} catch (e) {
  process.emitWarning(`running the TypeScript sources through tsx (could not compile them: ${e.message})`);
}
if (entry) {
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
