// The order service: POST /orders {"id": string, "total": number} inserts the order through Kysely and
// emits `order.placed` in the same transaction, so the fact exists exactly when the row does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createEmitter, type Fact } from '@factlib/emit'
import { fromKysely } from '@factlib/emit/kysely'
import { type Generated, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'

interface Database {
  orders: { id: string; total: number; created_at: Generated<Date> }
}

export interface App {
  readonly server: Server
  close(): Promise<void>
}

export function createApp(databaseUrl: string, source = 'orders'): App {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 })
  pool.on('error', (error) => console.warn('idle database connection closed:', error.message))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const facts = createEmitter({ source })

  const placeOrder = (order: { id: string; total: number }): Promise<Fact | undefined> =>
    db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('orders')
        .values(order)
        .onConflict((conflict) => conflict.column('id').doNothing())
        .returning('id')
        .executeTakeFirst()
      if (!inserted) return undefined
      return facts.emit(fromKysely(trx), {
        aggregateType: 'order',
        aggregateId: order.id,
        type: 'order.placed',
        data: order,
      })
    })

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error('request failed:', error)
      send(response, 500, { error: 'internal error' })
    })
  })
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST' || request.url !== '/orders')
      return send(response, 404, { error: 'POST /orders' })
    let order: { id?: unknown; total?: unknown }
    try {
      order = JSON.parse(await text(request))
    } catch {
      return send(response, 400, { error: 'the body must be JSON' })
    }
    if (typeof order.id !== 'string' || typeof order.total !== 'number')
      return send(response, 400, { error: 'expected {"id": string, "total": number}' })
    const fact = await placeOrder({ id: order.id, total: order.total })
    if (!fact) return send(response, 409, { error: `order ${order.id} exists already` })
    send(response, 201, { id: order.id, factId: fact.id })
  }

  return {
    server,
    async close() {
      await new Promise((resolve) => server.close(resolve))
      await db.destroy()
    },
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

async function text(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
