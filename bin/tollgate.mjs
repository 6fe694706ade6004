#!/usr/bin/env -S node --single-threaded-gc
// Runs the TypeScript sources directly through tsx, so `npm start` and `npx tollgate` need no build step.
//
// --single-threaded-gc: V8's parallel and concurrent GC helper threads compete with the event
// loop, PostgreSQL and the upstream for the same cores. On a 2-core box they doubled the gateway's
// p99 added latency (docs/gateway.md, "GC threads"); Tollgate's heap is small (~40 MB), so
// collecting it on the main thread costs less than sharing the cores. `npm start` passes the same
// flag, and bench:gateway starts the server with the flags on the line above.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
