#!/usr/bin/env node
// `npm test`: starts what the tests need (scripts/setup-test-services.sh), runs every vitest project
// (unit, pglite, postgres), and ends with the plain summary line `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';

const env = { ...process.env };
env.TEST_DATABASE_URL ??= env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/tollgate_test';
delete env.DATABASE_URL; // the pglite project must not be switched to PostgreSQL by it

const setup = spawnSync('bash', ['scripts/setup-test-services.sh'], { stdio: 'inherit', env });
if (setup.status !== 0) {
  console.error('test setup failed');
  process.exit(setup.status ?? 1);
}

// Layering rules (.dependency-cruiser.cjs): shared imports no domain, http only auth, no cycle
// through two domains, the SDK only the providers' readers. A violation fails the run.
const layers = spawnSync('npx', ['depcruise', '--config', '.dependency-cruiser.cjs', 'src', '--output-type', 'err'], { stdio: 'inherit', env });
const layerFailures = layers.status === 0 ? 0 : 1;

mkdirSync('.test-results', { recursive: true });
const report = '.test-results/report.json';
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit', env });

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests ?? 0;
  // A file that failed to load has no failed test in it but must still count as a failure.
  const brokenFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed')).length;
  failed = (r.numFailedTests ?? 0) + brokenFiles;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (run.status !== 0 && failed === 0) failed = 1; // a crash or a failed suite with no failed test still fails
if (layerFailures) console.error('layering rules broken (see the dependency-cruiser output above)');
failed += layerFailures;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
