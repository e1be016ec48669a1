/**
 * Aggregates a V8 .cpuprofile (from `node --cpu-prof` or `npm run bench -- --profile`) by function and by package:
 * self time (the function itself was on top of the stack) and total time (it was anywhere on the stack).
 *
 * Usage: npm run bench:profile-summary -- build/profiles/stub-sqlite-file-b1000.cpuprofile [--top 15]
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  pkg: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  /** Wall time covered by the samples. */
  totalMs: number;
  /** Time the thread was idle, waiting for I/O. */
  idleMs: number;
  functions: Row[];
  packages: Row[];
  /** Per source file: time on top of the stack, and anywhere on it (what the file and its callees cost). */
  files: Row[];
}

/** A frame with no URL that is neither a V8 pseudo-frame nor an AJV validator: a C++ binding or builtin. */
function isNative(frame: CallFrame): boolean {
  return frame.url === '' && !/^\(.*\)$/.test(frame.functionName) && !/^validate\d*$/.test(frame.functionName);
}

/**
 * Where a frame's code comes from: a package under node_modules, a folder of this project, a part of Node, or one
 * of V8's pseudo-frames. AJV compiles schemas with `new Function`, so its validators have no URL: they are
 * recognised by their generated names (validate10, ...).
 */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (/^\(.*\)$/.test(functionName)) return functionName;
    if (/^validate\d*$/.test(functionName)) return 'ajv (compiled validators)';
    return '(native)';
  }
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    return `node:${parts[0] === 'internal' ? (parts[1] ?? 'internal') : parts[0]}`;
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const at = path.lastIndexOf('node_modules/');
  if (at >= 0) {
    const [first, second] = path.slice(at + 'node_modules/'.length).split('/');
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? path);
  }
  const local = relative(ROOT, path);
  return local.startsWith('..') ? path : `hesh:${local.split('/')[0]}/`;
}

function shortLocation(frame: CallFrame): string {
  if (frame.url === '') return '';
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  const at = path.lastIndexOf('node_modules/');
  const short = at >= 0 ? path.slice(at + 'node_modules/'.length) : relative(ROOT, path).startsWith('..') ? path : relative(ROOT, path);
  return `${short}:${frame.lineNumber + 1}`;
}

/** The file of a JS frame, relative to node_modules or to this project; none for native and pseudo-frames. */
function fileOf(frame: CallFrame): string | undefined {
  const location = shortLocation(frame);
  return location ? location.replace(/:\d+$/, '') : undefined;
}

function functionKey(frame: CallFrame): string {
  const location = shortLocation(frame);
  return `${frame.functionName || '(anonymous)'}${location ? ` ${location}` : ''}`;
}

/**
 * Self and total time per function and per package.
 * @example summarizeProfile(JSON.parse(readFileSync(file, 'utf8'))).functions.slice(0, 15)
 */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // A native frame (better-sqlite3's Statement#run, a crypto job's run, a socket's writev) is named and filed by
  // the JS function that called it: "run" alone would lump SQLite inserts together with random-byte generation.
  const keys = new Map<number, { key: string; pkg: string }>();
  const identify = (id: number): { key: string; pkg: string } => {
    const known = keys.get(id);
    if (known) return known;
    const frame = byId.get(id)!.callFrame;
    let found: { key: string; pkg: string };
    const callerId = parent.get(id);
    if (isNative(frame) && callerId !== undefined) {
      const caller = identify(callerId);
      found = { key: `${frame.functionName} [native, called by ${caller.key}]`, pkg: `native via ${caller.pkg}` };
    } else {
      found = { key: functionKey(frame), pkg: packageOf(frame) };
    }
    keys.set(id, found);
    return found;
  };

  const functions = new Map<string, Row>();
  const packages = new Map<string, Row>();
  const files = new Map<string, Row>();
  const row = (map: Map<string, Row>, key: string, name: string, pkg: string): Row => {
    let found = map.get(key);
    if (!found) map.set(key, (found = { name, pkg, selfMs: 0, totalMs: 0 }));
    return found;
  };

  let totalMs = 0;
  let idleMs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i += 1) {
    // A sample lasts until the next one; the last one gets the profile's end.
    const ms = ((i + 1 < timeDeltas.length ? timeDeltas[i + 1]! : 0) || 0) / 1000;
    totalMs += ms;
    const top = byId.get(samples[i]!)!;
    if (top.callFrame.functionName === '(idle)') idleMs += ms;

    const { key: topKey, pkg: topPkg } = identify(top.id);
    row(functions, topKey, topKey, topPkg).selfMs += ms;
    row(packages, topPkg, topPkg, topPkg).selfMs += ms;
    const topFile = fileOf(top.callFrame);
    if (topFile) row(files, topFile, topFile, packageOf(top.callFrame)).selfMs += ms;

    // Total time counts each function or package once per sample, however often it recurs on the stack.
    const seenFunctions = new Set<string>();
    const seenPackages = new Set<string>();
    const seenFiles = new Set<string>();
    for (let id: number | undefined = top.id; id !== undefined; id = parent.get(id)) {
      if (byId.get(id)!.callFrame.functionName === '(root)') break;
      const { key, pkg } = identify(id);
      if (!seenFunctions.has(key)) {
        seenFunctions.add(key);
        row(functions, key, key, pkg).totalMs += ms;
      }
      if (!seenPackages.has(pkg)) {
        seenPackages.add(pkg);
        row(packages, pkg, pkg, pkg).totalMs += ms;
      }
      const frame = byId.get(id)!.callFrame;
      const file = fileOf(frame);
      if (file && !seenFiles.has(file)) {
        seenFiles.add(file);
        row(files, file, file, packageOf(frame)).totalMs += ms;
      }
    }
  }
  const bySelf = (a: Row, b: Row) => b.selfMs - a.selfMs;
  return {
    totalMs,
    idleMs,
    functions: [...functions.values()].sort(bySelf),
    packages: [...packages.values()].sort(bySelf),
    files: [...files.values()].sort((a, b) => b.totalMs - a.totalMs),
  };
}

function pct(ms: number, of: number): string {
  return `${((100 * ms) / of).toFixed(1)}%`;
}

/** Markdown tables of the top functions by self time, the top by total time, and every package. */
export function formatSummary(summary: ProfileSummary, title: string, top = 15): string {
  const { totalMs, idleMs } = summary;
  const busyMs = totalMs - idleMs;
  const line = (r: Row, i: number) =>
    `| ${i + 1} | \`${r.name.replace(/\|/g, '\\|')}\` | ${r.pkg} | ${r.selfMs.toFixed(0)} | ${pct(r.selfMs, busyMs)} | ${pct(r.totalMs, busyMs)} |`;
  const header = ['| # | function | package | self ms | self % of busy | total % of busy |', '| --: | --- | --- | --: | --: | --: |'];
  const skip = (r: Row) => !/^\((root|program|idle|garbage collector)\)/.test(r.name);
  return [
    `### ${title}`,
    '',
    `${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy (${pct(busyMs, totalMs)}), ${(idleMs / 1000).toFixed(1)} s idle. Percentages are of busy time.`,
    '',
    `Top ${top} functions by self time:`,
    '',
    ...header,
    ...summary.functions.filter((r) => r.name !== '(idle)').slice(0, top).map(line),
    '',
    `Top ${top} functions by total time (self + callees), pseudo-frames left out:`,
    '',
    ...header,
    ...[...summary.functions].filter(skip).sort((a, b) => b.totalMs - a.totalMs).slice(0, top).map(line),
    '',
    `Top ${top + 10} source files by total time (the file's own code and everything it calls):`,
    '',
    '| file | package | self % of busy | total % of busy |',
    '| --- | --- | --: | --: |',
    ...summary.files.slice(0, top + 10).map((r) => `| \`${r.name}\` | ${r.pkg} | ${pct(r.selfMs, busyMs)} | ${pct(r.totalMs, busyMs)} |`),
    '',
    'By package:',
    '',
    '| package | self ms | self % of busy | total % of busy |',
    '| --- | --: | --: | --: |',
    ...summary.packages
      .filter((r) => r.name !== '(idle)')
      .map((r) => `| ${r.name} | ${r.selfMs.toFixed(0)} | ${pct(r.selfMs, busyMs)} | ${pct(r.totalMs, busyMs)} |`),
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
  if (args.length === 0) {
    console.error('Usage: npm run bench:profile-summary -- FILE.cpuprofile [FILE...] [--top N]');
    process.exit(2);
  }
  for (const file of args) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    console.log(formatSummary(summarizeProfile(profile), file, top));
  }
}
