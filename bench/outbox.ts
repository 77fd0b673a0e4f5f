// @factlib/emit against the outbox-table pattern on the same business transaction, and the order row alone
// without any event: bench/README.md, "Emit versus the outbox table".
import type pg from 'pg'
import { waitFor } from '../test/harness/wait.js'
import { spawnScript } from './child.js'
import { currentLsn, withClient, withDatabase } from './db.js'
import { benchEmitter, TOPIC } from './facts.js'
import { runLoad } from './load.js'
import { CpuWindow } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, log, type Services } from './services.js'
import { format, rotate } from './stats.js'

const ARMS = ['emit', 'outbox', 'none'] as const

const SCHEMA = `
create extension pgstattuple;
create table orders (id bigserial primary key, customer_id int not null, total_cents int not null,
  created_at timestamptz not null default now());
create table outbox (id bigserial primary key, aggregate_type text not null, aggregate_id text not null,
  type text not null, payload jsonb not null, created_at timestamptz not null default now());`
const INSERT_ORDER = 'insert into orders (customer_id, total_cents) values ($1, $2) returning id'
const INSERT_OUTBOX = `insert into outbox (aggregate_type, aggregate_id, type, payload)
  values ('order', $1, 'order.placed', $2)`
/** What pgstattuple says of the outbox table and its index. */
const BLOAT = `select r, s.* from unnest(array['outbox', 'outbox_pkey']) r, pgstattuple(r) s order by r`

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

type Settings = { repeats: number; concurrency: number[]; warmupMs: number; durationMs: number }

export async function measure({ services, quick }: BenchContext) {
  const settings: Settings = quick
    ? { repeats: 1, concurrency: [8], warmupMs: 300, durationMs: 1500 }
    : { repeats: 3, concurrency: [1, 8, 32], warmupMs: 1000, durationMs: 4000 }
  await ensureTopics(services.kafka.brokers, [TOPIC, 'outbox.order'])
  const runs = []
  for (let rep = 0; rep < settings.repeats; rep++)
    for (const [index, clients] of settings.concurrency.entries())
      for (const arm of rotate(ARMS, rep + index)) {
        // Each run on a database of its own: the emit arm's with the relay's slot.
        const slots = arm === 'emit' ? ['relay'] : []
        const run = await withDatabase(services, slots, (url) =>
          runArm(services, url, settings, arm, clients),
        )
        runs.push({ ...run, rep })
        const figures = `${format(run.perSecond)} tx/s, ${format(run.walBytesPerTransaction)} WAL B/tx`
        log(`outbox ${arm} ${clients} clients rep ${rep + 1}/${settings.repeats}: ${figures}`)
      }
  return { ...settings, runs }
}

/** What publishes the events: the relay or the polling worker; `pending` counts what is not in Kafka yet. */
async function startDelivery(services: Services, url: string, arm: Arm) {
  if (arm === 'emit') {
    const relay = await startStreamingRelay(services, { url, slot: 'relay' })
    const pending = async (sent: number) => sent - (await relay.metrics()).relayed
    return { pid: relay.pid, pending, stop: () => relay.stop() }
  }
  if (arm === 'none') return { pid: 0, pending: async () => 0, stop: async () => {} }
  const worker = spawnScript('outbox-worker.ts', [url, services.kafka.brokers.join(','), 'outbox.order'])
  await worker.line((line) => line === 'ready', 60_000)
  const count = 'select count(*)::int as n from outbox'
  const pending = () => withClient(url, async (client) => (await client.query(count)).rows[0]?.n ?? 0)
  const stop = async () => {
    worker.kill('SIGKILL')
    await worker.exited
  }
  return { pid: worker.pid, pending, stop }
}

type Arm = (typeof ARMS)[number]

async function runArm(services: Services, url: string, settings: Settings, arm: Arm, clients: number) {
  await withClient(url, (client) => client.query(SCHEMA))
  const emitter = benchEmitter()
  const delivery = await startDelivery(services, url, arm)
  let sent = 0
  const settled = async () => (await delivery.pending(sent)) <= 0
  const delivered = () =>
    waitFor(`${arm} to deliver every event`, settled, { timeoutMs: 300_000, intervalMs: 20 })
  try {
    const transaction = async (client: pg.Client, n: number) => {
      const [customerId, totalCents] = [n % 5000, 1000 + (n % 9000)]
      await client.query('begin')
      const values = [customerId, totalCents]
      const order = await client.query({ name: 'order', text: INSERT_ORDER, values })
      const orderId = String(order.rows[0]?.id)
      const data = orderPlaced(orderId, customerId, totalCents)
      const fact = { aggregateType: 'order', aggregateId: orderId, type: 'order.placed', data }
      if (arm === 'emit') await emitter.emit(client, fact)
      if (arm === 'outbox')
        await client.query({ name: 'outbox', text: INSERT_OUTBOX, values: [orderId, JSON.stringify(data)] })
      await client.query('commit')
    }
    const load = async (durationMs: number) => {
      const result = await runLoad({ url, clients, durationMs }, transaction)
      sent += result.transactions
      return result
    }
    // Warm the clients and the delivery process, then start from empty tables and a fresh checkpoint.
    await load(settings.warmupMs)
    await delivered()
    await withClient(url, (client) => client.query('truncate orders, outbox; checkpoint'))
    const lsn0 = await withClient(url, currentLsn)
    const postgres = { tree: services.postmasterPid }
    const window = new CpuWindow({ delivery: delivery.pid, kafka: services.kafka.pid, postgres }, 200)
    const result = await load(settings.durationMs)
    const cpu = window.stop()
    const loadEnded = performance.now()
    await delivered()
    const drainSeconds = (performance.now() - loadEnded) / 1000
    const walBytes = Number((await withClient(url, currentLsn)) - lsn0)
    const { rows } = await withClient(url, (client) => client.query<Record<string, string>>(BLOAT))
    const bloat = rows.map((r) => ({ bytes: Number(r.table_len), deadTuples: Number(r.dead_tuple_count) }))
    const [perSecond, walBytesPerTransaction] = [result.perSecond, walBytes / result.transactions]
    // What pgstattuple says of the outbox table and its index once drained, before any manual VACUUM.
    const [outboxTable, outboxIndex] = [bloat[0]!, bloat[1]!]
    return { arm, clients, perSecond, walBytesPerTransaction, drainSeconds, outboxTable, outboxIndex, cpu }
  } finally {
    await delivery.stop()
  }
}
