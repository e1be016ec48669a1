/**
 * `npm run test:workflows`: runs the Arazzo workflows of openapi/workflows/users.arazzo.yaml with Redocly Respect
 * against the stub and the Prism mock, each started on a free port and stopped afterwards, and exits 1 if any
 * workflow fails. test/workflows/workflows.test.ts runs the same functions.
 *
 * Which workflows run on which target is written in the Arazzo file itself (`x-hesh-targets` on each workflow),
 * next to the reason; this script only passes those ids to `respect --workflow`. Arguments after `--` go to
 * respect as they are, e.g. `npm run test:workflows -- --verbose`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { startMock } from '../mock/start-mock.js';
import { parseConfig } from '../server/config.js';
import { startServer } from '../server/start.js';

const ROOT = resolve(import.meta.dirname, '..');
export const WORKFLOWS_FILE = join(ROOT, 'openapi', 'workflows', 'users.arazzo.yaml');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const TARGETS_KEY = 'x-hesh-targets';
// One respect run makes a handful of requests to a server on loopback; minutes mean something hangs.
const RESPECT_TIMEOUT_MS = 120_000;
const FETCH_TIMEOUT_MS = 15_000;
const LOG_LINES = 40;

export type TargetName = 'stub' | 'mock';

export interface RunningTarget {
  url: string;
  /** Workflow inputs this target needs (`respect --input`), such as a tenant it has provisioned. */
  inputs: Record<string, string>;
  stop: () => Promise<void>;
  /** The target's own log, for a failure message. */
  log?: () => string;
}

/** How each target is started: on 127.0.0.1, on a port the OS picks, with nothing left behind by stop(). */
export const TARGETS: Record<TargetName, () => Promise<RunningTarget>> = {
  stub: async () => {
    const config = parseConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', LOG_LEVEL: 'silent' });
    const stub = await startServer(config);
    return { url: stub.url, inputs: { tenantId: config.tenants[0]! }, stop: stub.close };
  },
  mock: async () => {
    const mock = await startMock();
    return { url: mock.url, inputs: {}, stop: mock.stop, log: mock.output };
  },
};

interface ArazzoFile {
  sourceDescriptions: { name: string; type?: string }[];
  workflows: ({ workflowId: string } & Record<string, unknown>)[];
}

export interface WorkflowPlan {
  /** The sourceDescriptions that `--server` points at the target (every OpenAPI one). */
  sourceNames: string[];
  /** The workflow ids each target runs, in the file's order. */
  workflows: Record<TargetName, string[]>;
}

/**
 * Reads which workflows run on which target from the Arazzo file; throws on a workflow without targets or with an
 * unknown one, so that no workflow is silently never run.
 */
export async function readWorkflowPlan(file = WORKFLOWS_FILE): Promise<WorkflowPlan> {
  const doc = parse(await readFile(file, 'utf8')) as ArazzoFile;
  const workflows: Record<TargetName, string[]> = { stub: [], mock: [] };
  for (const workflow of doc.workflows) {
    const targets = workflow[TARGETS_KEY];
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new Error(`workflow ${workflow.workflowId} in ${file} lists no ${TARGETS_KEY}`);
    }
    for (const target of targets) {
      if (!(target in workflows)) {
        throw new Error(`workflow ${workflow.workflowId}: unknown target "${target}" in ${TARGETS_KEY}`);
      }
      workflows[target as TargetName].push(workflow.workflowId);
    }
  }
  const sourceNames = doc.sourceDescriptions.filter((s) => (s.type ?? 'openapi') === 'openapi').map((s) => s.name);
  return { sourceNames, workflows };
}

export interface CheckFailure {
  stepId: string;
  /** respect's name for the check: `success criteria check`, `status code check`, `content-type check`, ... */
  check: string;
  message: string;
  /** What the server answered to the step, e.g. `422 application/problem+json`. */
  answer: string;
}

export interface WorkflowResult {
  workflowId: string;
  passed: boolean;
  failures: CheckFailure[];
}

export interface RespectRun {
  url: string;
  exitCode: number | null;
  results: WorkflowResult[];
  /** Workflows asked for that respect did not report (a typo, or respect stopped early). */
  missing: string[];
  /** What respect printed. */
  output: string;
}

interface RespectCheck {
  name: string;
  passed: boolean;
  message?: string;
  severity?: string;
}

/** A step, or a workflow a step ran, as in respect's --json-output. */
interface ExecutedStep {
  stepId?: string;
  response?: { statusCode?: number; headers?: Record<string, string> };
  checks?: RespectCheck[];
  executedSteps?: ExecutedStep[];
}

interface RespectJson {
  files: Record<string, { executedWorkflows?: (ExecutedStep & { workflowId: string; status: string })[] }>;
}

/**
 * Runs `redocly respect` on the workflows file against one server and returns each workflow's outcome.
 * @example const run = await runRespect({ url: 'http://127.0.0.1:3000', workflows: ['createBatch'] });
 */
export async function runRespect(options: {
  url: string;
  workflows: string[];
  inputs?: Record<string, string>;
  file?: string;
  extraArgs?: string[];
}): Promise<RespectRun> {
  const file = options.file ?? WORKFLOWS_FILE;
  const plan = await readWorkflowPlan(file);
  const dir = await mkdtemp(join(tmpdir(), 'hesh-respect-'));
  const jsonFile = join(dir, 'respect.json');
  const args = [
    'respect',
    relative(ROOT, file),
    '--server',
    plan.sourceNames.map((name) => `${name}=${options.url}`).join(','),
    ...options.workflows.flatMap((id) => ['--workflow', id]),
    ...(options.inputs && Object.keys(options.inputs).length ? ['--input', JSON.stringify(options.inputs)] : []),
    '--json-output',
    jsonFile,
    '--max-fetch-timeout',
    String(FETCH_TIMEOUT_MS),
    ...(options.extraArgs ?? []),
  ];
  try {
    const { exitCode, output } = await run(REDOCLY, args);
    let report: RespectJson | undefined;
    try {
      report = JSON.parse(await readFile(jsonFile, 'utf8')) as RespectJson;
    } catch {
      // respect failed before it ran anything (a bad file, a bad flag): its output says why.
    }
    const results = Object.values(report?.files ?? {}).flatMap((f) => (f.executedWorkflows ?? []).map(toResult));
    const missing = options.workflows.filter((id) => !results.some((r) => r.workflowId === id));
    return { url: options.url, exitCode, results, missing, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function toResult(workflow: ExecutedStep & { workflowId: string; status: string }): WorkflowResult {
  const failures = failuresOf(workflow.executedSteps ?? []);
  return { workflowId: workflow.workflowId, passed: workflow.status === 'success' && failures.length === 0, failures };
}

function failuresOf(steps: ExecutedStep[]): CheckFailure[] {
  return steps.flatMap((step) => {
    const { statusCode, headers } = step.response ?? {};
    const answer = statusCode ? `${statusCode} ${headers?.['content-type'] ?? '(no content-type)'}` : '(no answer)';
    return [
      ...failuresOf(step.executedSteps ?? []),
      ...(step.checks ?? [])
        // respect's --severity can turn a check into a warning or off; only what fails the run is a failure here.
        .filter((check) => !check.passed && check.severity !== 'warn' && check.severity !== 'off')
        .map((check) => ({
          stepId: step.stepId ?? '?',
          check: check.name,
          message: (check.message ?? '').replace(/\s+/g, ' ').trim(),
          answer,
        })),
    ];
  });
}

/** True when respect exited cleanly and every workflow asked for ran and passed. */
export function passed(run: RespectRun): boolean {
  return run.exitCode === 0 && run.missing.length === 0 && run.results.length > 0 && run.results.every((r) => r.passed);
}

/** A short report of one run, one line per workflow and one per failed check. */
export function describeRun(target: string, run: RespectRun): string {
  const lines = [`${target} (${run.url}): ${passed(run) ? 'passed' : 'FAILED'}`];
  for (const result of run.results) {
    lines.push(`  ${result.passed ? 'ok  ' : 'FAIL'} ${result.workflowId}`);
    let step = '';
    for (const failure of result.failures) {
      if (failure.stepId !== step) lines.push(`       step ${(step = failure.stepId)}, answered ${failure.answer}:`);
      lines.push(`         ${failure.check}: ${failure.message}`);
    }
  }
  for (const id of run.missing) lines.push(`  FAIL ${id}: not run by respect`);
  if (!passed(run) && run.results.length === 0) lines.push(run.output);
  if (!passed(run)) lines.push('  `npm run test:workflows -- --verbose` shows every request and response.');
  return lines.join('\n');
}

/**
 * Starts one target, runs its workflows, and stops it, whatever happens.
 * @example const run = await runWorkflowsOn('stub'); passed(run) // true
 */
export async function runWorkflowsOn(target: TargetName, extraArgs: string[] = []): Promise<RespectRun & { log?: string }> {
  const plan = await readWorkflowPlan();
  const running = await TARGETS[target]();
  try {
    const result = await runRespect({ url: running.url, workflows: plan.workflows[target], inputs: running.inputs, extraArgs });
    return passed(result) ? result : { ...result, log: running.log?.().split('\n').slice(-LOG_LINES).join('\n') };
  } finally {
    await running.stop();
  }
}

/** Runs a command to completion; kills it (and fails) after RESPECT_TIMEOUT_MS. */
function run(command: string, args: string[]): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        // Plain text, so that a failure message reads as it would in a terminal.
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redocly respect did not finish within ${RESPECT_TIMEOUT_MS} ms. Its output:\n${output}`));
    }, RESPECT_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolveRun({ exitCode, output });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const extraArgs = process.argv.slice(2);
  let ok = true;
  // One target after the other: respect, Prism and the stub together already fill a 2-core machine.
  for (const target of Object.keys(TARGETS) as TargetName[]) {
    const result = await runWorkflowsOn(target, extraArgs);
    if (extraArgs.length) console.log(result.output);
    console.log(describeRun(target, result));
    if (!passed(result)) {
      ok = false;
      if (result.log) console.log(`  the end of the ${target}'s log:\n${result.log}`);
    }
  }
  process.exit(ok ? 0 : 1);
}
