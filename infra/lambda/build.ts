// `npm run bundle:lambda -w @factlib/infra [folder]`: the relay's Lambda bundle (index.mjs) into a folder, for
// FACTLIB_DEPLOY_LAMBDA_BUNDLE or any other packaging. `npm run build` at the root comes first.
import { resolve } from 'node:path'
import { buildRelayLambda } from './bundle.js'

const folder = resolve(process.argv[2] ?? 'lambda/dist')
await buildRelayLambda(folder)
process.stdout.write(`${folder}/index.mjs\n`)
