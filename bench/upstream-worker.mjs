// Worker entry: registers tsx on this thread, then runs the TypeScript upstream.
import { register } from 'tsx/esm/api';

register();
await import('./upstream-worker.ts');
