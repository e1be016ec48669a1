// Types of scripts/dev.mjs, which is plain JavaScript so that node runs it without a loader.

/** Where `npm start` and `npm run mock` keep the compiled sources (.cache/dev/). */
export const DEV_DIR: string;

/**
 * Brings `out` up to date with the TypeScript sources under `root`; resolves with the sources it compiled.
 * @example await compileSources(); // then import('.cache/dev/server/main.js')
 */
export function compileSources(options?: { root?: string; out?: string }): Promise<string[]>;

/** Whether the docs pages were built from the files they are built from now (build/docs/built-from.json). */
export function docsCurrent(root?: string): boolean;
