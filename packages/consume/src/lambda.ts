import { FactlibError } from './errors.js'
import type { Fact } from './fact.js'
import { decodeOrSkip, logRecord, message, type NotAFact } from './skip.js'

/**
 * One record of a Lambda Kafka event: `MSKRecord` and `SelfManagedKafkaRecord` of `@types/aws-lambda` are
 * assignable to it. `key` and `value` are base64; each header is a single-key object of byte values.
 */
export interface LambdaKafkaRecord {
  topic: string
  partition: number
  offset: number
  timestamp?: number
  timestampType?: string
  key?: string | null
  value?: string | null
  headers?: ReadonlyArray<Record<string, readonly number[]>>
}

/**
 * The event an Amazon MSK (`eventSource: "aws:kafka"`) or self-managed Apache Kafka (`"SelfManagedKafka"`)
 * event source mapping invokes a function with: `MSKEvent` and `SelfManagedKafkaEvent` of
 * `@types/aws-lambda` are assignable to it. `records` groups the records by `"<topic>-<partition>"`.
 */
export interface LambdaKafkaEvent {
  eventSource: string
  eventSourceArn?: string
  bootstrapServers?: string
  records: Readonly<Record<string, readonly LambdaKafkaRecord[]>>
}

/**
 * A Kafka partial batch response: for each failed partition (its `"<topic>-<partition>"` key) its first
 * failed record and every later record of the batch, none of which was handled. Lambda retries what is named
 * and treats the other records of the batch as processed; naming all of them keeps the partition's order
 * whether Lambda resumes a partition from its lowest failed offset or retries exactly the records named.
 * Read only with `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
 */
export interface KafkaBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: { partition: string; offset: number } }>
}

/** Options of {@link kafkaHandler}. */
export interface KafkaHandlerOptions {
  /**
   * `true`: return a {@link KafkaBatchResponse} naming each failed partition's records from its first
   * failure on, instead of failing the invocation. Only with `ReportBatchItemFailures` on the event source mapping (provisioned
   * mode): without it Lambda ignores the response and counts the batch as processed. @default false
   */
  reportBatchItemFailures?: boolean
  /**
   * A record that is not a fact (`NOT_A_FACT`): `'fail'` its partition like a failing handler, or `'skip'`
   * it with a warning line. @default 'fail'
   */
  notAFact?: NotAFact
}

/**
 * A Lambda handler for Kafka event sources (Amazon MSK and self-managed Apache Kafka). Decodes each record
 * and calls `handle` for each fact: partition by partition, each partition's records in offset order. A
 * partition stops at its first failure (a throwing handler, a record that is not a fact): its later records
 * may belong to the same aggregate, so they are not handled before it. The other partitions go on. Each
 * failure is logged as one JSON line (`console.error`) with its topic, partition, offset and code.
 *
 * Then, if anything failed, the invocation fails with `BATCH_FAILED` (naming each failed partition and
 * offset, the first failure as `cause`) and Lambda retries the whole batch; facts already handled are
 * skipped by the inbox, so the retry is safe. With `{ reportBatchItemFailures: true }` it returns the
 * partial batch response instead, and only the failed partitions are retried from their failed record.
 *
 * Partitions are handled one after another, so one database connection serves the whole batch.
 *
 * Recommended event source settings (README, "AWS Lambda: MSK and self-managed Kafka"): provisioned poller
 * mode, `MaximumRetryAttempts` set (-1, forever, by default) with an on-failure destination, and
 * `FunctionResponseTypes: ["ReportBatchItemFailures"]` with `{ reportBatchItemFailures: true }`.
 *
 * @example
 * ```ts
 * import { createInbox, route } from '@factlib/consume'
 * import { kafkaHandler } from '@factlib/consume/lambda'
 *
 * const inbox = createInbox({ consumer: 'shipping' })
 * const shipping = route<Orders, pg.Client>({
 *   'order.placed': (fact, tx) => tx.query('insert into shipments (order_id) values ($1)', [fact.aggregateId]),
 * }, { unknown: 'skip' })
 *
 * export const handler = kafkaHandler(async (fact) => {
 *   await inbox.handle(client, fact, shipping)
 * }, { reportBatchItemFailures: true })
 * ```
 */
export function kafkaHandler(
  handle: (fact: Fact, record: LambdaKafkaRecord) => unknown,
  { reportBatchItemFailures = false, notAFact = 'fail' }: KafkaHandlerOptions = {},
): (event: LambdaKafkaEvent) => Promise<KafkaBatchResponse> {
  return async (event) => {
    const failures: Array<{ partition: string; record: LambdaKafkaRecord; error: unknown }> = []
    const batchItemFailures: KafkaBatchResponse['batchItemFailures'] = []
    for (const [partition, records] of Object.entries(event.records ?? {})) {
      const ordered = [...records].sort((a, b) => a.offset - b.offset)
      for (const [index, record] of ordered.entries()) {
        try {
          const fact = decodeOrSkip(record, notAFact)
          if (fact) await handle(fact, record)
        } catch (error) {
          logRecord('error', 'fact failed: its partition stops here', record, error)
          failures.push({ partition, record, error })
          for (const unhandled of ordered.slice(index))
            batchItemFailures.push({ itemIdentifier: { partition, offset: unhandled.offset } })
          break
        }
      }
    }
    if (failures.length && !reportBatchItemFailures)
      throw new FactlibError(
        'BATCH_FAILED',
        `${failures.length} partition(s) failed, at ${failures
          .map(({ partition, record }) => `${partition}@${record.offset}`)
          .join(', ')}; their later records were not handled. ${message(failures[0]?.error)}`,
        failures[0]?.error,
      )
    return { batchItemFailures }
  }
}
