import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * V8 heap settings the relay runs with (packages/relay/README.md, "Memory"). At full speed the relay and its
 * Kafka client allocate ~20 KiB of short-lived objects per fact, near 1 GB/s, and every fact in flight
 * outlives a young-generation collection. With V8's defaults the young generation grows to 3 × 16 MiB and
 * the old one to up to four times what is live before V8 collects it: most of the peak RSS. A semi-space of
 * 8 MiB and an old generation allowed to grow to twice what was live after the last full collection bound
 * both, for a few tenths of a CPU second per 100k facts.
 */
export const RELAY_HEAP_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=100']

/**
 * NODE_OPTIONS for a runtime that starts the relay itself (Lambda), where it cannot restart with
 * {@link RELAY_HEAP_FLAGS}: the semi-space size, which V8 fixes at start. (`--heap-growing-percent` is not
 * allowed in NODE_OPTIONS; the Lambda handler sets it at load.)
 */
export const RELAY_NODE_OPTIONS = '--max-semi-space-size=8'

/** Of {@link RELAY_HEAP_FLAGS}, those V8 reads at every collection: they work when set at run time too. */
const RUNTIME_HEAP_FLAGS: readonly string[] = ['--heap-growing-percent=100']

const flagName = (flag: string) => (flag.split('=')[0] ?? '').replace(/^--/, '').replaceAll('_', '-')

/**
 * The flags of {@link RELAY_HEAP_FLAGS} this process does not run with yet: none set on Node's command line
 * or in NODE_OPTIONS. A flag the operator set (any value) is theirs and stays.
 */
export function missingHeapFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName))
  return RELAY_HEAP_FLAGS.filter((flag) => !given.has(flagName(flag)))
}

/**
 * Replace this process by the same command with the missing heap flags (`process.execve`: same PID, same
 * stdio and environment, no second process), so that `node …/main.js relay`, the `factlib` bin and the
 * image's entry point all run with them: V8 sizes its young generation once, at start. Does nothing where
 * `process.execve` is missing (Windows) or every flag is set already.
 */
export function reexecWithHeapFlags(): void {
  const missing = missingHeapFlags(process.execArgv, process.env.NODE_OPTIONS)
  if (missing.length === 0 || typeof process.execve !== 'function') return
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  )
}

/**
 * Where the process cannot be restarted (the Lambda runtime starts it): the flags V8 reads at every
 * collection, unless the operator set them. The semi-space size only NODE_OPTIONS can set there
 * (`--max-semi-space-size=8`).
 */
export function applyRuntimeHeapFlags(): void {
  const missing = new Set(missingHeapFlags(process.execArgv, process.env.NODE_OPTIONS))
  for (const flag of RUNTIME_HEAP_FLAGS) if (missing.has(flag)) setFlagsFromString(flag)
}

let compacted = false

/**
 * One compacting collection that hands the pages of the start's garbage back to the system: loading the
 * Kafka client (~370 modules, schema compiles) leaves the heap at ~50 MiB with ~15 MiB live, and V8 keeps
 * those pages until a collection of the kind it runs under memory pressure. Once per process, before the
 * first session streams: a warm Lambda invocation or a second relay in the same process has no start-up
 * garbage left to give back, and is not paused for it.
 */
export function compactHeap(): void {
  if (compacted) return
  compacted = true
  const given = (globalThis as { gc?: unknown }).gc
  let gc = typeof given === 'function' ? (given as (options: object) => void) : undefined
  if (!gc) {
    // A context made while the flag is on gets a gc(); turned off again, later contexts (a host's, when the
    // relay is embedded through startRelay) do not. An operator's own --expose-gc is used as it is instead.
    setFlagsFromString('--expose-gc')
    try {
      gc = runInNewContext("typeof gc === 'function' ? gc : undefined") as typeof gc
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  }
  // A runtime other than Node (Bun) gives no gc(): its heap stays as it is, and the relay runs on.
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' })
}
