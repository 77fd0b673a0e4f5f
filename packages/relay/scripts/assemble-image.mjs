#!/usr/bin/env node
// Assemble the relay's production file tree into OUT: the built workspaces the relay needs and their
// production dependencies at the versions package-lock.json locks. The Dockerfile runs this script and
// copies OUT into the image; infra/test/image.test.ts runs it and starts the relay from OUT. One recipe.
//
//   node packages/relay/scripts/assemble-image.mjs OUT
//
// Needs the repository with its dev dependencies installed (tsc). OUT gets:
//   package.json, package-lock.json, <workspace>/package.json   the manifests npm resolves the lock with
//   packages/emit/dist, packages/relay/dist                      the built code, without maps and typings
//   node_modules/                                                production dependencies (no @factlib/dev)
// and runs as: node OUT/packages/relay/dist/cli/main.js relay
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNTIME_WORKSPACES = ['packages/emit', 'packages/relay']

const [target] = process.argv.slice(2)
if (!target) {
  process.stderr.write('usage: node packages/relay/scripts/assemble-image.mjs OUT\n')
  process.exit(2)
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const out = resolve(target)
mkdirSync(out, { recursive: true })
if (readdirSync(out).length) {
  process.stderr.write(`assemble-image: ${out} is not empty\n`)
  process.exit(2)
}
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] })
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

// tsc -b builds @factlib/emit first, through the project reference.
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/relay'], root)

cpSync(join(root, 'package.json'), join(out, 'package.json'))
cpSync(join(root, 'package-lock.json'), join(out, 'package-lock.json'))
// npm resolves the lock against every workspace's manifest, also of workspaces it does not install.
for (const workspace of workspaceFolders(readJson(join(root, 'package.json')).workspaces)) {
  mkdirSync(join(out, workspace), { recursive: true })
  cpSync(join(root, workspace, 'package.json'), join(out, workspace, 'package.json'))
}
for (const workspace of RUNTIME_WORKSPACES)
  cpSync(join(root, workspace, 'dist'), join(out, workspace, 'dist'), {
    recursive: true,
    filter: (source) => !/\.(map|d\.ts)$/.test(source),
  })

// `npm ci` would be stricter, but it rejects a lock without the other platforms' optional binaries of dev
// tools; `npm install` from the copied lock installs the locked versions, which the check below proves.
run(
  'npm',
  [
    'install',
    '--omit=dev',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    ...RUNTIME_WORKSPACES.flatMap((workspace) => ['--workspace', workspace]),
  ],
  out,
)

const locked = readJson(join(root, 'package-lock.json')).packages
const drift = []
const check = (folder) => {
  for (const entry of readdirSync(join(out, folder))) {
    const path = join(folder, entry)
    if (entry.startsWith('.') || lstatSync(join(out, path)).isSymbolicLink()) continue
    if (entry.startsWith('@')) {
      check(path)
      continue
    }
    const version = readJson(join(out, path, 'package.json')).version
    if (locked[path]?.version !== version) drift.push(`${path}@${version} (locked: ${locked[path]?.version})`)
    if (existsSync(join(out, path, 'node_modules'))) check(join(path, 'node_modules'))
  }
}
check('node_modules')
if (drift.length) {
  process.stderr.write(
    `assemble-image: installed versions differ from package-lock.json:\n  ${drift.join('\n  ')}\n`,
  )
  process.exit(1)
}

/** Workspace folders: each pattern is a folder, or `<folder>/*` for every folder in it with a package.json. */
function workspaceFolders(patterns) {
  return patterns.flatMap((pattern) => {
    if (!pattern.includes('*')) return [pattern]
    if (!/^[^*]+\/\*$/.test(pattern))
      throw new Error(`assemble-image: unsupported workspace pattern ${pattern}`)
    const parent = pattern.slice(0, -2)
    return readdirSync(join(root, parent))
      .map((entry) => join(parent, entry))
      .filter((folder) => existsSync(join(root, folder, 'package.json')))
  })
}
