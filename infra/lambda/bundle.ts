import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BuildOptions, build, buildSync } from 'esbuild'

const RELAY_PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/relay')

/** The file the bundle is written to inside its folder; the function's handler is `index.handler`. */
export const BUNDLE_FILE = 'index.mjs'

/**
 * esbuild's options for the relay's Lambda bundle: `@factlib/relay/lambda` (built by `npm run build`) and
 * everything it imports in one ES module for Node 22, as the Lambda example builds its handler.
 */
export function relayLambdaBuildOptions(outdir: string): BuildOptions {
  return {
    stdin: { contents: "export { handler } from '@factlib/relay/lambda'", resolveDir: RELAY_PACKAGE },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile: join(outdir, BUNDLE_FILE),
    logLevel: 'warning',
    // The Kafka client reads its CRC32C WebAssembly from a file next to its module; this variant inlines it.
    alias: { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' },
    // CommonJS dependencies need a `require` inside an ES module.
    banner: {
      js: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);",
    },
  }
}

/** Bundle into `outdir` (for `sst deploy`); resolves to `outdir`. */
export async function buildRelayLambda(outdir: string): Promise<string> {
  await build(relayLambdaBuildOptions(outdir))
  return outdir
}

/** The same, synchronously: the CDK's local bundling hook cannot wait. */
export function buildRelayLambdaSync(outdir: string): string {
  buildSync(relayLambdaBuildOptions(outdir))
  return outdir
}
