// An AWS Lambda handler behind an API Gateway HTTP API: POST /orders {"id","total"} writes the order and
// emits `order.placed` in one transaction. The pool and the emitter live across invocations of a warm
// Lambda; each invocation checks out one client and runs its transaction on it.
import { createEmitter } from '@factlib/emit'
import pg from 'pg'

/** The parts of an API Gateway HTTP API (payload 2.0) event this handler reads. */
export interface HttpEvent {
  body?: string | null
  isBase64Encoded?: boolean
}

export interface HttpResult {
  statusCode: number
  headers: Record<string, string>
  body: string
}

// One connection per Lambda instance: an instance serves one request at a time.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 })
// An idle connection the server closed (failover, idle timeout) must not crash the instance: the pool
// replaces it on the next checkout.
pool.on('error', (error) => console.warn('idle database connection closed:', error.message))
const facts = createEmitter({ source: process.env.FACTLIB_SOURCE ?? 'orders' })

const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

export async function handler(event: HttpEvent): Promise<HttpResult> {
  let order: { id?: unknown; total?: unknown }
  try {
    const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body
    order = JSON.parse(text ?? '')
  } catch {
    return json(400, { error: 'the body must be JSON: {"id": "...", "total": 9.5}' })
  }
  if (typeof order.id !== 'string' || typeof order.total !== 'number')
    return json(400, { error: 'expected {"id": string, "total": number}' })

  const client = await pool.connect()
  try {
    await client.query('begin')
    const inserted = await client.query(
      'insert into orders (id, total) values ($1, $2) on conflict do nothing',
      [order.id, order.total],
    )
    if (inserted.rowCount === 0) {
      await client.query('rollback')
      return json(409, { error: `order ${order.id} exists already` })
    }
    const fact = await facts.emit(client, {
      aggregateType: 'order',
      aggregateId: order.id,
      type: 'order.placed',
      data: { id: order.id, total: order.total },
    })
    await client.query('commit')
    return json(201, { id: order.id, factId: fact.id })
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
