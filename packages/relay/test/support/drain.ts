import { type CliResult, runCli } from '../../../../test/harness/cli.js'
import { kafkaBrokers } from '../../../../test/harness/index.js'
import { readTopic } from '../../../../test/harness/kafka-reader.js'
import type { DrainSummary } from '../../src/relay/drain.js'

/** `factlib relay --drain [args]` with `env`, to its end. */
export const drain = (env: Record<string, string>, args: string[] = []): Promise<CliResult> =>
  runCli(['relay', '--drain', ...args], { env })

/**
 * A drain's summary: the last line on stdout (of a run's result, or of the lines a relay process printed),
 * JSON because stdout is a pipe.
 */
export function summaryOf(result: { stdout: string } | string[]): DrainSummary {
  const lines = Array.isArray(result) ? result : result.stdout.trim().split('\n')
  return JSON.parse(lines.at(-1) ?? '') as DrainSummary
}

/** The fact ids (`ce_id`) of every record in `topic`, in the order read. */
export const factIdsIn = async (topic: string): Promise<string[]> =>
  (await readTopic(kafkaBrokers(), topic)).map((record) => record.headers.ce_id ?? '')
