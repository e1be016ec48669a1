/**
 * Code samples for every operation of the bundle, derived from its named request examples: a curl line and a
 * TypeScript call with the package's client for each. `npm run generate` writes them into the bundle as Redoc's
 * `x-codeSamples`; test/generated/code-samples.test.ts runs each curl sample against the stub and type-checks each
 * TypeScript sample, so a sample that stops working fails the build.
 */
import { deref as derefNode, HTTP_METHODS } from '../core/spec.js';

type Json = Record<string, any>;

export interface CodeSample {
  lang: 'curl' | 'TypeScript';
  label: string;
  source: string;
}

/** Follows local `#/...` references of the bundle. */
const deref = (spec: Json, node: Json): Json => derefNode<Json>(spec, node);

/** A parameter's example value: its own example, its first named example, or its schema's first example. */
function parameterExample(spec: Json, parameter: Json): unknown {
  if (parameter.example !== undefined) return parameter.example;
  const named = Object.values((parameter.examples ?? {}) as Json)[0];
  if (named) return deref(spec, named).value;
  return parameter.schema?.examples?.[0];
}

/** Quotes a string for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A JSON value as TypeScript source, indented for the call it goes in. */
function tsValue(value: unknown, indent: string): string {
  // Keys that are identifiers go unquoted, as a person writes them.
  return JSON.stringify(value, null, 2)
    .replace(/^(\s*)"([A-Za-z_$][\w$]*)":/gm, '$1$2:')
    .replace(/\n/g, `\n${indent}`);
}

/**
 * The named requests of an operation: one per named example of its JSON request body, or, without a body, one
 * named after the operation, with the path and required query and header parameters filled from their examples.
 */
export function namedRequests(
  spec: Json,
  path: string,
  op: Json,
): { name: string; path: string; pathParams: Record<string, string>; query: Record<string, string>; headers: Record<string, string>; body?: unknown }[] {
  const parameters = ((op.parameters ?? []) as Json[]).map((p) => deref(spec, p));
  const value = (p: Json): string => {
    const found = parameterExample(spec, p);
    if (found === undefined) throw new Error(`${op.operationId}: parameter ${p.name} (in ${p.in}) needs an example`);
    return String(found);
  };
  const pathParams: Record<string, string> = {};
  const query: Record<string, string> = {};
  const headers: Record<string, string> = {};
  for (const p of parameters) {
    if (p.in === 'path') pathParams[p.name] = value(p);
    else if (p.in === 'query' && p.required) query[p.name] = value(p);
    else if (p.in === 'header' && p.required) headers[p.name.toLowerCase()] = value(p);
  }
  const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(pathParams[name] ?? `{${name}}`));
  const search = new URLSearchParams(query).toString();
  const target = search ? `${filled}?${search}` : filled;
  const examples = op.requestBody ? (deref(spec, op.requestBody).content?.['application/json']?.examples ?? {}) : {};
  const named = Object.entries(examples as Json);
  if (op.requestBody && named.length === 0) throw new Error(`${op.operationId}: the request body needs a named example`);
  if (named.length === 0) return [{ name: op.operationId, path: target, pathParams, query, headers }];
  return named.map(([name, example]) => ({ name, path: target, pathParams, query, headers, body: deref(spec, example).value }));
}

/** The tenant a sample sends: the TenantId scheme's x-example. */
function sampleTenant(spec: Json): string {
  const tenant = spec.components?.securitySchemes?.TenantId?.['x-example'];
  if (typeof tenant !== 'string') throw new Error('components.securitySchemes.TenantId needs an x-example tenant id');
  return tenant;
}

/**
 * The code samples of one operation, for the bundle's first server: one curl and one TypeScript sample (Redoc CE
 * shows one tab per language), each holding every named request of the operation under a comment that names it.
 */
export function codeSamples(spec: Json, path: string, method: string, op: Json): CodeSample[] {
  const origin = spec.servers?.[0]?.url as string;
  const tenant = sampleTenant(spec);
  const requests = namedRequests(spec, path, op);
  const curl = requests.map((request) =>
    [
      `# ${request.name}`,
      [
        `curl -i -X ${method.toUpperCase()} ${shellQuote(origin + request.path)}`,
        `  -H ${shellQuote(`x-tenant-id: ${tenant}`)}`,
        ...Object.entries(request.headers).map(([name, v]) => `  -H ${shellQuote(`${name}: ${v}`)}`),
        ...(request.body !== undefined
          ? [`  -H 'content-type: application/json'`, `  -d ${shellQuote(JSON.stringify(request.body))}`]
          : []),
      ].join(' \\\n'),
    ].join('\n'),
  );
  const calls = requests.map((request) => {
    const options: string[] = [];
    const params: string[] = [];
    if (Object.keys(request.pathParams).length > 0) params.push(`path: ${tsValue(request.pathParams, '      ')}`);
    if (Object.keys(request.query).length > 0) params.push(`query: ${tsValue(request.query, '      ')}`);
    if (Object.keys(request.headers).length > 0) params.push(`header: ${tsValue(request.headers, '      ')}`);
    if (params.length > 0) options.push(`    params: {\n      ${params.join(',\n      ')},\n    },`);
    if (request.body !== undefined) options.push(`    body: ${tsValue(request.body, '    ')},`);
    return [
      `// ${request.name}`,
      '{',
      `  const { data, error, response } = await client.${method.toUpperCase()}(${JSON.stringify(path)}, {`,
      ...options.map((line) => line.replace(/^ {2}/, '')).map((line) => `  ${line}`),
      '  });',
      '  console.log(response.status, data ?? error);',
      '}',
    ].join('\n');
  });
  const ts = [
    `import { createUsersClient } from 'hesh-users-contract';`,
    '',
    `const client = createUsersClient({ baseUrl: ${JSON.stringify(origin)}, tenantId: ${JSON.stringify(tenant)} });`,
    '',
    calls.join('\n\n'),
  ].join('\n');
  return [
    { lang: 'curl', label: 'curl', source: curl.join('\n\n') },
    { lang: 'TypeScript', label: 'TypeScript', source: ts },
  ];
}

/** Splits a curl sample into its named commands, as codeSamples wrote them. */
export function curlCommands(source: string): { name: string; command: string }[] {
  return source.split(/\n\n(?=# )/).map((part) => {
    const [header, ...rest] = part.split('\n');
    return { name: header!.replace(/^# /, ''), command: rest.join('\n') };
  });
}

/** The bundle with `x-codeSamples` on every operation, replacing any it had. */
export function withCodeSamples(spec: Json): Json {
  for (const [path, item] of Object.entries((spec.paths ?? {}) as Json)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op) op['x-codeSamples'] = codeSamples(spec, path, method, op);
    }
  }
  return spec;
}
