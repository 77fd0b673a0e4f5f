// A Cloudflare Worker: POST /orders writes the order and emits `order.placed` in one interactive
// transaction over Neon's WebSocket driver; POST /orders/http does the same in one HTTP request with
// Neon's neon() and sql.transaction([...]). Both bodies are {"id": string, "total": number}.
import { createEmitter, type Fact } from '@factlib/emit'
import { emitQuery } from '@factlib/emit/neon'
import { neon, neonConfig, Pool } from '@neondatabase/serverless'

export interface Env {
  DATABASE_URL: string
  FACTLIB_SOURCE?: string
  /** Local development and tests only: a WebSocket-to-TCP proxy in front of a plain PostgreSQL. */
  NEON_WS_PROXY?: string
  /** Local development and tests only: an endpoint speaking Neon's SQL-over-HTTP protocol. */
  NEON_FETCH_ENDPOINT?: string
}

interface Context {
  waitUntil(promise: Promise<unknown>): void
}

interface Order {
  id: string
  total: number
}

export default {
  async fetch(request: Request, env: Env, ctx: Context): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (request.method !== 'POST' || (pathname !== '/orders' && pathname !== '/orders/http'))
      return Response.json({ error: 'POST /orders or /orders/http' }, { status: 404 })
    const order = (await request.json().catch(() => undefined)) as Partial<Order> | undefined
    if (typeof order?.id !== 'string' || typeof order.total !== 'number')
      return Response.json({ error: 'expected {"id": string, "total": number}' }, { status: 400 })
    if (env.NEON_WS_PROXY) {
      neonConfig.wsProxy = env.NEON_WS_PROXY
      neonConfig.useSecureWebSocket = false
      neonConfig.pipelineConnect = false
    }
    if (env.NEON_FETCH_ENDPOINT) neonConfig.fetchEndpoint = env.NEON_FETCH_ENDPOINT

    const facts = createEmitter({ source: env.FACTLIB_SOURCE ?? 'orders' })
    const fact =
      pathname === '/orders'
        ? await placeOverWebSocket(env, ctx, facts, order as Order)
        : await placeOverHttp(env, facts, order as Order)
    return fact ? Response.json({ id: order.id, factId: fact.id }, { status: 201 }) : conflict(order.id)
  },
}

const conflict = (id: string) => Response.json({ error: `order ${id} exists already` }, { status: 409 })

/** An interactive transaction: the insert's result decides whether to emit. */
async function placeOverWebSocket(
  env: Env,
  ctx: Context,
  facts: ReturnType<typeof createEmitter>,
  order: Order,
): Promise<Fact | undefined> {
  // A Worker may not reuse a connection across requests: one pool per request, closed after the response.
  const pool = new Pool({ connectionString: env.DATABASE_URL })
  const client = await pool.connect()
  try {
    await client.query('begin')
    const inserted = await client.query(
      'insert into orders (id, total) values ($1, $2) on conflict do nothing',
      [order.id, order.total],
    )
    if (inserted.rowCount === 0) {
      await client.query('rollback')
      return undefined
    }
    const fact = await facts.emit(client, {
      aggregateType: 'order',
      aggregateId: order.id,
      type: 'order.placed',
      data: order,
    })
    await client.query('commit')
    return fact
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
    ctx.waitUntil(pool.end())
  }
}

/**
 * One HTTP request, one non-interactive transaction: every statement is known up front, so the insert
 * fails (and takes the fact with it) on a duplicate rather than being checked first.
 */
async function placeOverHttp(
  env: Env,
  facts: ReturnType<typeof createEmitter>,
  order: Order,
): Promise<Fact | undefined> {
  const sql = neon(env.DATABASE_URL)
  const placed = facts.prepare({
    aggregateType: 'order',
    aggregateId: order.id,
    type: 'order.placed',
    data: order,
  })
  try {
    await sql.transaction([
      sql`insert into orders (id, total) values (${order.id}, ${order.total})`,
      emitQuery(sql, placed),
    ])
  } catch (error) {
    if ((error as { code?: string }).code === '23505') return undefined
    throw error
  }
  return placed.facts[0]
}
