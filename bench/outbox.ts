// @factlib/emit against the outbox-table pattern, on the same business transaction (insert an order row and
// record the event) at 1, 8 and 32 concurrent clients, arms alternating within each repeat:
//   emit    the fact goes into the WAL (`emit(tx, fact)`); a relay process publishes it to Kafka
//   outbox  an INSERT into an outbox table; a polling worker process publishes and deletes the rows
//   none    the order row alone: what the business transaction costs without any event
import type pg from 'pg'
import { spawnScript } from './child.js'
import { createDatabase, currentLsn, dropSlot, withClient } from './db.js'
import { benchEmitter, TOPIC } from './facts.js'
import { runLoad } from './load.js'
import { CpuWindow } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, sleep } from './services.js'
import { format, rotate } from './stats.js'

export const ARMS = ['emit', 'outbox', 'none'] as const
type Arm = (typeof ARMS)[number]

const SCHEMA = `
drop table if exists orders, outbox;
create table orders (id bigserial primary key, customer_id int not null, total_cents int not null,
  created_at timestamptz not null default now());
create table outbox (id bigserial primary key, aggregate_type text not null, aggregate_id text not null,
  type text not null, payload jsonb not null, created_at timestamptz not null default now());`

/** The event both arms record: about 250 bytes of JSON. */
const orderPlaced = (orderId: string, customerId: number, totalCents: number) => ({
  orderId,
  customerId,
  totalCents,
  currency: 'EUR',
  items: [
    { sku: 'sku-1042', quantity: 2, priceCents: Math.floor(totalCents / 4) },
    { sku: 'sku-2093', quantity: 1, priceCents: Math.floor(totalCents / 2) },
  ],
  shipping: { method: 'standard', country: 'DE' },
})

export async function measure(context: BenchContext) {
  const settings = context.quick
    ? { repeats: 1, concurrency: [8], warmupMs: 300, durationMs: 1500 }
    : { repeats: 3, concurrency: [1, 8, 32], warmupMs: 1000, durationMs: 4000 }
  await ensureTopics(context.services.kafka.brokers, [TOPIC, 'outbox.order'])
  const db = await createDatabase(context.services.url, 'bench_outbox')
  const runs = []
  try {
    await withClient(db.url, async (client) => {
      await client.query('create extension if not exists pgstattuple')
      await client.query('create publication bench_pub')
    })
    for (let rep = 0; rep < settings.repeats; rep++)
      for (const [index, clients] of settings.concurrency.entries())
        for (const arm of rotate(ARMS, rep + index)) {
          const run = await runArm(context, db.url, arm, clients, `emit_${runs.length}`, settings)
          runs.push({ ...run, rep })
          context.log(
            `outbox ${arm} ${clients} clients rep ${rep + 1}/${settings.repeats}: ${format(run.perSecond)} tx/s, ` +
              `${format(run.walBytesPerTransaction)} WAL B/tx`,
          )
        }
  } finally {
    await db.drop()
  }
  return { ...settings, runs }
}

export type OutboxResult = Awaited<ReturnType<typeof measure>>

async function runArm(
  { services }: BenchContext,
  url: string,
  arm: Arm,
  clients: number,
  slot: string,
  settings: { warmupMs: number; durationMs: number },
) {
  await withClient(url, (client) => client.query(SCHEMA))
  const emitter = benchEmitter()
  // The relay counts what it relayed; the worker's table counts down to 0.
  let delivered = async () => 0
  let stopDelivery = async () => {}
  let deliveryPid = 0
  if (arm === 'emit') {
    await withClient(url, (client) =>
      client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]),
    )
    const relay = await startStreamingRelay({
      DATABASE_URL: url,
      FACTLIB_SLOT: slot,
      FACTLIB_PUBLICATION: 'bench_pub',
      FACTLIB_CREATE_SLOT: 'false',
      KAFKA_BROKERS: services.kafka.brokers.join(','),
    })
    deliveryPid = relay.pid
    delivered = async () => (await relay.metrics()).relayed
    stopDelivery = async () => {
      await relay.stop()
      await dropSlot(url, slot)
    }
  } else if (arm === 'outbox') {
    const worker = spawnScript('outbox-worker.ts', [url, services.kafka.brokers.join(','), 'outbox.order'])
    await worker.line((line) => line === 'ready', 60_000)
    deliveryPid = worker.pid
    delivered = () =>
      withClient(
        url,
        async (client) => -((await client.query('select count(*)::int as n from outbox')).rows[0]?.n ?? 0),
      )
    stopDelivery = async () => {
      worker.kill('SIGTERM')
      await worker.exited
    }
  }
  const waitDelivered = async (transactions: number) => {
    const target = arm === 'emit' ? transactions : 0
    for (
      const deadline = Date.now() + 300_000;
      arm !== 'none' && (await delivered()) < target;
      await sleep(20)
    )
      if (Date.now() > deadline)
        throw new Error(`the ${arm} arm did not deliver every event within 5 minutes`)
  }
  try {
    const transaction = async (client: pg.Client, n: number) => {
      const [customerId, totalCents] = [n % 5000, 1000 + (n % 9000)]
      await client.query('begin')
      const { rows } = await client.query<{ id: string }>({
        name: 'order',
        text: 'insert into orders (customer_id, total_cents) values ($1, $2) returning id',
        values: [customerId, totalCents],
      })
      const orderId = rows[0]?.id as string
      const data = orderPlaced(orderId, customerId, totalCents)
      if (arm === 'emit')
        await emitter.emit(client, {
          aggregateType: 'order',
          aggregateId: orderId,
          type: 'order.placed',
          data,
        })
      if (arm === 'outbox')
        await client.query({
          name: 'outbox',
          text: `insert into outbox (aggregate_type, aggregate_id, type, payload) values ('order', $1, 'order.placed', $2)`,
          values: [orderId, JSON.stringify(data)],
        })
      await client.query('commit')
    }
    const load = (durationMs: number) => runLoad({ url, clients, durationMs }, transaction)
    // Warm the clients and the delivery process, then start from empty tables and a fresh checkpoint.
    await waitDelivered((await load(settings.warmupMs)).transactions)
    await withClient(url, (client) => client.query('truncate orders, outbox; checkpoint'))
    const base = await delivered()
    const lsn0 = await withClient(url, currentLsn)
    const window = new CpuWindow(
      { delivery: deliveryPid, kafka: services.kafkaPid },
      { postgres: services.postmasterPid },
    )
    const sampler = setInterval(() => window.sample(), 200)
    const result = await load(settings.durationMs)
    clearInterval(sampler)
    const cpu = window.stop()
    const loadEnded = performance.now()
    await waitDelivered(base + result.transactions)
    const drainSeconds = (performance.now() - loadEnded) / 1000
    const walBytes = Number((await withClient(url, currentLsn)) - lsn0)
    const bloat = await withClient(url, async (client) => {
      const { rows } = await client.query<Record<string, string>>(
        `select r, s.* from unnest(array['outbox', 'outbox_pkey']) r, pgstattuple(r) s order by r`,
      )
      return rows.map((row) => ({
        bytes: Number(row.table_len),
        deadTuples: Number(row.dead_tuple_count),
        wastedBytes: Number(row.dead_tuple_len) + Number(row.free_space),
      }))
    })
    return {
      arm,
      clients,
      transactions: result.transactions,
      perSecond: result.perSecond,
      walBytesPerTransaction: walBytes / result.transactions,
      drainSeconds,
      /** What pgstattuple says of the outbox table and its index once drained, before any manual VACUUM. */
      outboxTable: bloat[0],
      outboxIndex: bloat[1],
      cpu,
    }
  } finally {
    await stopDelivery()
  }
}
