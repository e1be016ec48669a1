/**
 * What `npm run mock` prints on start: how to call the mock, for every operation of the spec.
 */
import { readFileSync } from 'node:fs';
import { curlCommands } from '../scripts/code-samples.js';
import { DEFAULT_SPEC_PATH } from './start-mock.js';

interface Operation {
  operationId: string;
  responses: Record<string, { $ref?: string; content?: Record<string, { examples?: Record<string, unknown> }> }>;
  'x-codeSamples'?: { lang: string; source: string }[];
}
interface Bundle {
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { responses?: Record<string, Operation['responses'][string]> };
}

/** The named examples of one documented response, by name. */
function exampleNames(spec: Bundle, response: Operation['responses'][string]): string[] {
  const resolved = response.$ref ? spec.components.responses?.[response.$ref.split('/').pop()!] ?? {} : response;
  return Object.values(resolved.content ?? {}).flatMap((media) => Object.keys(media.examples ?? {}));
}

/**
 * The curl lines a frontend developer copies first, for every operation of the spec: its first code sample (the
 * bundle's x-codeSamples, from its named request examples) aimed at the mock, then the same asked for a documented
 * error, for one of its named examples, and for generated data.
 */
export function usage(url: string, specPath = DEFAULT_SPEC_PATH, stateful = false): string {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Bundle;
  const origin = spec.servers[0]!.url;
  const lines = [`Hesh Users API mock (Prism${stateful ? ', stateful: created users are remembered per tenant' : ''}) on ${url}`];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const source = op['x-codeSamples']?.find((s) => s.lang === 'curl')?.source;
      const first = source ? curlCommands(source)[0] : undefined;
      if (!op.operationId || !first) continue;
      const sample = first.command.replaceAll(origin, url);
      const withPrefer = (prefer: string) => sample.replace(/^(curl .*?)( \\)?$/m, `$1 -H 'Prefer: ${prefer}'$2`);
      const errors = Object.keys(op.responses).filter((status) => Number(status) >= 400);
      // The error with the most named examples shows best how to pick one.
      const [status, names] = errors
        .map((s) => [s, exampleNames(spec, op.responses[s]!)] as const)
        .reduce((best, next) => (next[1].length > best[1].length ? next : best), [errors[0] ?? '', [] as string[]] as const);
      lines.push(
        '',
        `${op.operationId} (${method.toUpperCase()} ${path}), with its first named request example (${first.name}):`,
        sample,
        `A documented error (${errors.join(', ')}), with its first example:`,
        withPrefer(`code=${status}`),
        ...(names.length > 0
          ? [
              'A named example of that status (without code=, Prism looks for it among the 200 examples and answers 404):',
              withPrefer(`code=${status}, example=${names[0]}`),
            ]
          : []),
        'Generated data, valid against the schema:',
        withPrefer('dynamic=true'),
      );
    }
  }
  return [...lines, '', 'Ctrl-C stops it.'].join('\n');
}

