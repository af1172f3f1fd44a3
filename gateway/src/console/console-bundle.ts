import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** Where the console's source lives (TypeScript and CSS, bundled at run time). */
export const CONSOLE_SOURCE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** The console, bundled: one script (styles included), its gzip form and an ETag. */
export interface ConsoleBundle {
  readonly js: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

/**
 * Bundles the console with esbuild's JS API, in memory: `npm start` needs no build step and
 * nothing is written next to the source. Minified, it is small enough to send as one file.
 */
export async function buildConsoleBundle(): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: [`${CONSOLE_SOURCE_DIR}main.tsx`],
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.css': 'text' },
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no console bundle');
  const js = Buffer.from(file.contents);
  return {
    js,
    gzip: gzipSync(js, { level: 9 }),
    etag: `"${createHash('sha256').update(js).digest('base64url').slice(0, 22)}"`,
  };
}

let cached: Promise<ConsoleBundle> | undefined;

/** The bundle, built on first use and kept for the life of the process. */
export function consoleBundle(): Promise<ConsoleBundle> {
  cached ??= buildConsoleBundle().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
