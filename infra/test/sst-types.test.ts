import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * Wrong on purpose, and never written to disk: SST's real types must reject every line marked
 * `rejects: <word>` with an error naming that word, and nothing else. Any-typed stubs would accept them all.
 */
const TYPOS = {
  path: join(root, 'infra/test/sst-typos.virtual.ts'),
  text: `/// <reference path="../../.sst/platform/config.d.ts" />
import { consumerSpec, relaySpec } from '../spec/index.js'
import { relayServiceArgs, subscribeConsumer } from '../sst/index.js'

declare const cluster: sst.aws.Cluster
const spec = relaySpec({ kafka: { kind: 'brokers', brokers: 'kafka.internal:9092' } })
const args = relayServiceArgs({ cluster, spec, databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' })

new sst.aws.Service('Fine', args)
new sst.aws.Service('Typo', { ...args, architecure: 'arm64' }) // rejects: architecure
new sst.aws.Service('Transform', { ...args, transform: { ...args.transform, servise: {} } }) // rejects: servise
new sst.aws.Service('Size', { ...args, cpu: '3 vCPU' }) // rejects: 3 vCPU
new sst.aws.Service('Health', { ...args, health: { ...args.health, interval: 'often' } }) // rejects: often
new sst.aws.Cluster('Cluster', { vpc: { id: 'vpc-1', securityGroups: [], loadBalancerSubnets: [] }, transform: { clustr: {} } }) // rejects: clustr
new sst.aws.Vpc('Vpc', { az: 2, nat: 'managd' }) // rejects: managd

// The README's consumer: an sst.aws.Function's name and role fit subscribeConsumer.
declare const fn: sst.aws.Function
const msk = relaySpec({ kafka: { kind: 'msk-iam', clusterArn: 'arn:aws:kafka:eu-west-1:1:cluster/facts/1' } })
subscribeConsumer('Projection', {
  spec: consumerSpec(msk, { name: 'orders-projection', topic: 'orders.Order' }),
  functionName: fn.name,
  roleName: fn.nodes.role.name,
})
`,
}

it('sst.config.ts type-checks against SST’s real platform types, which reject misspelled arguments', () => {
  if (!existsSync(join(root, '.sst/platform/config.d.ts')))
    throw new Error('SST’s platform types are not installed: run `npm run infra:types` first')
  const configFile = join(root, 'infra/tsconfig.sst.json')
  const { config } = ts.readConfigFile(configFile, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, dirname(configFile))
  expect(parsed.errors).toEqual([])
  expect(parsed.fileNames).toEqual([join(root, 'sst.config.ts')])

  // One program for both files: SST's types are the slow part to load.
  const host = ts.createCompilerHost(parsed.options)
  const { getSourceFile, fileExists, readFile } = host
  host.getSourceFile = (path, language, ...rest) =>
    path === TYPOS.path
      ? ts.createSourceFile(path, TYPOS.text, language)
      : getSourceFile(path, language, ...rest)
  host.fileExists = (path) => path === TYPOS.path || fileExists(path)
  host.readFile = (path) => (path === TYPOS.path ? TYPOS.text : readFile(path))
  const program = ts.createProgram([...parsed.fileNames, TYPOS.path], parsed.options, host)
  // Our files only: checking them checks every SST type they use, without checking all of SST's sources.
  const ours = program
    .getSourceFiles()
    .filter((file) => !file.fileName.includes('/node_modules/') && !file.fileName.includes('/.sst/'))
  expect(ours.map((file) => file.fileName)).toEqual(
    expect.arrayContaining([join(root, 'sst.config.ts'), join(root, 'infra/sst/service.ts'), TYPOS.path]),
  )
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...ours.flatMap((file) => [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ]),
  ]
  const errors = diagnostics.map((diagnostic) => {
    const file = diagnostic.file
    const line =
      file && diagnostic.start !== undefined
        ? file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
        : 0
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    return { file: file ? file.fileName : '', line, message }
  })

  expect(errors.filter((error) => error.file !== TYPOS.path)).toEqual([])
  // The platform really is SST's: its Service component is the one from .sst/platform.
  expect(program.getSourceFile(join(root, '.sst/platform/src/components/aws/service.ts'))).toBeDefined()

  const marked = TYPOS.text.split('\n').flatMap((text, index) => {
    const word = /\/\/ rejects: (.+)$/.exec(text)?.[1]
    return word ? [{ line: index + 1, word }] : []
  })
  expect(marked).toHaveLength(6)
  const typoErrors = errors.filter((error) => error.file === TYPOS.path)
  expect(new Set(typoErrors.map((error) => error.line))).toEqual(new Set(marked.map((mark) => mark.line)))
  for (const { line, word } of marked)
    expect(
      typoErrors.some((error) => error.line === line && error.message.includes(word)),
      `line ${line} should be rejected naming ${word}: ${JSON.stringify(typoErrors.filter((error) => error.line === line))}`,
    ).toBe(true)
  // Loading SST's and Pulumi's types takes 15-40 s on two busy cores.
}, 180_000)
