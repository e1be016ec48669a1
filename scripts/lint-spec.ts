/**
 * Lints the hand-written contract and the bundle with Redocly (rules in redocly.yaml) and fails on any problem,
 * warnings included: `redocly lint` itself only fails on errors.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const ENV = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
const TARGETS = ['main', 'generated/openapi.json'];

let failed = false;
for (const target of TARGETS) {
  const run = spawnSync(REDOCLY, ['lint', target, '--format', 'json'], { cwd: ROOT, env: ENV, encoding: 'utf8' });
  const totals = /"errors":\s*(\d+),\s*"warnings":\s*(\d+)/.exec(run.stdout);
  if (!totals) {
    console.error(`redocly lint ${target} gave no result:\n${run.stderr}`);
    failed = true;
    continue;
  }
  const [errors, warnings] = [Number(totals[1]), Number(totals[2])];
  console.log(`redocly lint ${target}: ${errors} errors, ${warnings} warnings`);
  if (errors + warnings > 0) {
    failed = true;
    // Show the problems the way a person reads them.
    spawnSync(REDOCLY, ['lint', target], { cwd: ROOT, env: ENV, stdio: 'inherit' });
  }
}
process.exit(failed ? 1 : 0);
