/**
 * Records which documented status of which operation each target answered, and renders the table docs/testing.md
 * points to: operation × status × target.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { documentedStatuses } from '../helpers/contract.js';

export const COVERAGE_FILE = resolve(import.meta.dirname, '..', '..', 'build', 'contract-coverage.md');

const hits = new Map<string, Set<string>>();

/** Notes that `target` answered `status` for `operationId`. */
export function recordHit(operationId: string, status: number, target: string): void {
  const key = `${operationId} ${status}`;
  if (!hits.has(key)) hits.set(key, new Set());
  hits.get(key)!.add(target);
}

/** The documented statuses of an operation that no target answered. */
export function missedStatuses(operationId: string): number[] {
  return documentedStatuses(operationId).filter((s) => (hits.get(`${operationId} ${s}`)?.size ?? 0) === 0);
}

/** The markdown table for the given operations and targets; also written to build/contract-coverage.md. */
export function coverageTable(operationIds: string[], targets: string[]): string {
  const lines = [
    `| operation | status | ${targets.join(' | ')} |`,
    `| --- | --- | ${targets.map(() => '---').join(' | ')} |`,
  ];
  for (const operationId of operationIds) {
    for (const status of documentedStatuses(operationId)) {
      const seen = hits.get(`${operationId} ${status}`) ?? new Set();
      lines.push(`| ${operationId} | ${status} | ${targets.map((t) => (seen.has(t) ? 'hit' : '—')).join(' | ')} |`);
    }
  }
  const table = lines.join('\n');
  mkdirSync(dirname(COVERAGE_FILE), { recursive: true });
  writeFileSync(COVERAGE_FILE, `# Contract coverage\n\nWritten by the contract suite (test/contract/) on its last run.\n\n${table}\n`);
  return table;
}
