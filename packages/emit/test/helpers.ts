import { afterAll, beforeAll } from 'vitest'
import { freshDatabase, uniqueName, withClient } from '../../../test/harness/index.js'
import { createWalReader, type WalMessage, type WalReader } from '../../../test/harness/wal.js'
import type { Fact } from '../src/index.js'

/** A fresh database for the calling test file, with a pgoutput slot that sees every message. */
export async function walDatabase(prefix: string) {
  const db = await freshDatabase(prefix)
  let wal: WalReader | undefined
  beforeAll(async () => {
    wal = await createWalReader(db.url)
  })
  afterAll(() => wal?.drop())
  return {
    db,
    /** The messages emitted under `source` so far, in WAL order. */
    messages: async (source: string): Promise<WalMessage[]> =>
      (await wal!.messages()).filter((message) => message.prefix === source),
  }
}

/** A source no other test uses, so each test reads only its own messages. */
export const uniqueSource = () => uniqueName('src')

/**
 * Envelope v1 content exactly as DESIGN.md defines it, built independently of the emitter: the header's
 * fields in their documented order, a newline, the payload bytes.
 */
export function expectedContent(fact: Fact): Buffer {
  const header: Record<string, unknown> = {
    v: 1,
    id: fact.id,
    type: fact.type,
    aggregateType: fact.aggregateType,
    aggregateId: fact.aggregateId,
    time: fact.time,
    contentType: fact.contentType,
  }
  if (fact.metadata) header.metadata = fact.metadata
  if (fact.traceparent) header.traceparent = fact.traceparent
  if (fact.tracestate) header.tracestate = fact.tracestate
  const payload =
    fact.data !== undefined
      ? Buffer.from(JSON.stringify(fact.data))
      : typeof fact.payload === 'string'
        ? Buffer.from(fact.payload, 'utf8')
        : Buffer.from(fact.payload!)
  return Buffer.concat([Buffer.from(JSON.stringify(header)), Buffer.from('\n'), payload])
}

/** A `tx` that records what it is asked to run, and fails if asked. */
export function recordingTx() {
  const queries: Array<{ text: string; params: string[] }> = []
  return {
    queries,
    query: async (text: string, params: string[]) => {
      queries.push({ text, params })
      return { rows: [] }
    },
  }
}

export const order = (id: string, total = 9) => ({
  aggregateType: 'order',
  aggregateId: id,
  type: 'order.placed',
  data: { total },
})

/** Create a table `(id text primary key)` with a random name in the database at `url`. */
export async function createTable(url: string): Promise<string> {
  const table = uniqueName('orders')
  await withClient(url, (client) => client.query(`create table ${table} (id text primary key)`))
  return table
}

/** The ids in `table`, sorted. */
export const idsIn = (url: string, table: string) =>
  withClient(url, async (client) =>
    (await client.query<{ id: string }>(`select id from ${table} order by id`)).rows.map((row) => row.id),
  )
