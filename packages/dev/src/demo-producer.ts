import { createEmitter } from '@factlib/emit'
import pg from 'pg'

/** The demo's own table: each fact is emitted in the transaction that writes the order's row. */
export const DEMO_TABLE = 'factlib_demo_orders'
export const DEMO_SOURCE = 'demo'

/** A running demo producer. */
export interface DemoProducer {
  /** Facts emitted so far. */
  readonly emitted: number
  /** Finish the transaction under way and disconnect. */
  stop(): Promise<void>
}

/**
 * What `factlib dev --demo` runs: an order service that places, pays and ships orders, a few facts per
 * second. Every fact is emitted inside the transaction that writes the order, as an application would.
 */
export async function startDemoProducer(
  databaseUrl: string,
  { intervalMs = 400, onError }: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): Promise<DemoProducer> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'factlib-demo' })
  client.on('error', () => {})
  await client.connect()
  await client.query(
    `create table if not exists ${DEMO_TABLE} (
       id text primary key, status text not null, total numeric not null, updated_at timestamptz not null)`,
  )
  const facts = createEmitter({ source: DEMO_SOURCE })
  const open: string[] = []
  let emitted = 0
  let stopped = false
  let next =
    1 + Number((await client.query<{ n: string }>(`select count(*) as n from ${DEMO_TABLE}`)).rows[0]?.n)

  const step = async () => {
    const paying = open.length > 0 && Math.random() < 0.5
    await client.query('begin')
    try {
      if (paying) {
        const id = open.shift() as string
        await client.query(`update ${DEMO_TABLE} set status = 'paid', updated_at = now() where id = $1`, [id])
        await facts.emit(client, {
          aggregateType: 'order',
          aggregateId: id,
          type: 'order.paid',
          data: { id },
        })
      } else {
        const id = `order-${next++}`
        const total = Math.round(Math.random() * 20_000) / 100
        await client.query(`insert into ${DEMO_TABLE} values ($1, 'placed', $2, now())`, [id, total])
        await facts.emit(client, {
          aggregateType: 'order',
          aggregateId: id,
          type: 'order.placed',
          data: { id, total, currency: 'EUR' },
        })
        open.push(id)
      }
      await client.query('commit')
      emitted += 1
    } catch (error) {
      await client.query('rollback').catch(() => {})
      throw error
    }
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        await step()
      } catch (error) {
        if (!stopped) onError?.(error)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()

  return {
    get emitted() {
      return emitted
    },
    async stop() {
      stopped = true
      await loop
      await client.end().catch(() => {})
    },
  }
}
