// @factlib/emit against the outbox-table pattern, on the same business transaction (insert an order row
// and record the event) at 1, 8 and 32 concurrent clients, arms alternating within each repeat:
//   emit    the fact goes into the WAL (`emit(tx, fact)`); a relay process publishes it to Kafka
//   outbox  an INSERT into an outbox table (bigserial primary key); a polling worker process locks rows
//           (FOR UPDATE SKIP LOCKED), publishes them to Kafka and deletes them
//   none    the order row alone: what the business transaction costs without any event
// Reported: transactions/s, WAL bytes per transaction (pg_current_wal_lsn delta from a CHECKPOINT until
// every event is delivered), and what the outbox table and its index hold once drained.
//
//   npx tsx bench/outbox.ts [--quick]
import type pg from 'pg'
import { spawnScript } from './child.js'
import { createDatabase, currentLsn, dropSlot, withClient } from './db.js'
import { benchEmitter, TOPIC } from './facts.js'
import { runLoad } from './load.js'
import { type CpuUsage, CpuWindow } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format, formatSummary, type Summary, summarize } from './stats.js'

export const COMMAND = 'npx tsx bench/outbox.ts'
export const OUTBOX_TOPIC = 'outbox.order'
export type Arm = 'emit' | 'outbox' | 'none'
const ARMS: Arm[] = ['emit', 'outbox', 'none']

export interface OutboxOptions {
  repeats?: number
  concurrency?: number[]
  warmupMs?: number
  durationMs?: number
}

/** pgstattuple of a relation once every event is delivered, before any manual VACUUM. */
export interface Bloat {
  bytes: number
  liveTuples: number
  deadTuples: number
  /** Dead tuples plus free space, bytes: what the relation holds without holding data. */
  wastedBytes: number
}

export interface OutboxRun {
  arm: Arm
  clients: number
  rep: number
  transactions: number
  perSecond: number
  walBytes: number
  walBytesPerTransaction: number
  /** From the end of the load until every event was in Kafka. */
  drainSeconds: number
  outboxTable?: Bloat
  outboxIndex?: Bloat
  ordersTable: Bloat
  cpu: CpuUsage
}

export interface OutboxCell {
  arm: Arm
  clients: number
  perSecond: Summary
  walBytesPerTransaction: Summary
  drainSeconds: Summary
  outboxTableBytes?: Summary
  outboxIndexBytes?: Summary
  outboxDeadTuples?: Summary
  outboxWastedBytes?: Summary
  /** Cores: all of PostgreSQL, the delivery process (relay or worker), the broker, other work on the machine. */
  cpu: Record<'postgres' | 'delivery' | 'kafka' | 'foreign', Summary>
  /** CPU µs per transaction while the load ran: all of PostgreSQL, the delivery process, the broker. */
  cpuPerTransaction: Record<'postgres' | 'delivery' | 'kafka', Summary>
}

export interface OutboxResult {
  command: string
  repeats: number
  durationMs: number
  warmupMs: number
  runs: OutboxRun[]
  cells: OutboxCell[]
  /** emit ÷ outbox transactions/s, paired within each repeat. */
  emitOverOutbox: Array<{ clients: number; ratio: Summary; walRatio: Summary }>
}

export function defaults(quick: boolean): Required<OutboxOptions> {
  return quick
    ? { repeats: 1, concurrency: [8], warmupMs: 300, durationMs: 1500 }
    : { repeats: 3, concurrency: [1, 8, 32], warmupMs: 1000, durationMs: 4000 }
}

const SCHEMA = `
drop table if exists orders, outbox;
create table orders (
  id bigserial primary key,
  customer_id int not null,
  total_cents int not null,
  created_at timestamptz not null default now()
);
create table outbox (
  id bigserial primary key,
  aggregate_type text not null,
  aggregate_id text not null,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);`

/** The event both arms record: about 250 bytes of JSON. */
function orderPlaced(orderId: string, customerId: number, totalCents: number) {
  return {
    orderId,
    customerId,
    totalCents,
    currency: 'EUR',
    items: [
      { sku: 'sku-1042', quantity: 2, priceCents: Math.floor(totalCents / 4) },
      { sku: 'sku-2093', quantity: 1, priceCents: Math.floor(totalCents / 2) },
    ],
    shipping: { method: 'standard', country: 'DE' },
  }
}

export async function measure(context: BenchContext, options: OutboxOptions = {}): Promise<OutboxResult> {
  const { services, log } = context
  const settings = { ...defaults(context.quick), ...options }
  await ensureTopics(services.kafka.brokers, [TOPIC, OUTBOX_TOPIC])
  const db = await createDatabase(services.url, 'bench_outbox')
  const runs: OutboxRun[] = []
  try {
    await withClient(db.url, async (client) => {
      await client.query('create extension if not exists pgstattuple')
      await client.query('create publication bench_pub')
    })
    let slotNumber = 0
    for (let rep = 0; rep < settings.repeats; rep++)
      for (const [index, clients] of settings.concurrency.entries()) {
        const order = ARMS.map((_, i) => ARMS[(i + rep + index) % ARMS.length] as Arm)
        for (const arm of order) {
          const run = await runArm(context, db.url, arm, clients, rep, `emit_${slotNumber++}`, settings)
          runs.push(run)
          log(
            `outbox ${arm} ${clients} clients rep ${rep + 1}/${settings.repeats}: ${format(run.perSecond)} tx/s, ` +
              `${format(run.walBytesPerTransaction)} WAL B/tx, drained ${run.drainSeconds.toFixed(2)} s after the load`,
          )
        }
      }
  } finally {
    await db.drop()
  }
  return {
    command: COMMAND,
    repeats: settings.repeats,
    durationMs: settings.durationMs,
    warmupMs: settings.warmupMs,
    runs,
    cells: cells(runs),
    emitOverOutbox: settings.concurrency.map((clients) => {
      const pair = (arm: Arm, rep: number) =>
        runs.find((run) => run.arm === arm && run.clients === clients && run.rep === rep)
      const reps = Array.from({ length: settings.repeats }, (_, rep) => rep)
      return {
        clients,
        ratio: summarize(
          reps.map(
            (rep) =>
              (pair('emit', rep)?.perSecond ?? Number.NaN) / (pair('outbox', rep)?.perSecond ?? Number.NaN),
          ),
        ),
        walRatio: summarize(
          reps.map(
            (rep) =>
              (pair('emit', rep)?.walBytesPerTransaction ?? Number.NaN) /
              (pair('outbox', rep)?.walBytesPerTransaction ?? Number.NaN),
          ),
        ),
      }
    }),
  }
}

async function runArm(
  { services }: BenchContext,
  url: string,
  arm: Arm,
  clients: number,
  rep: number,
  slot: string,
  settings: Required<OutboxOptions>,
): Promise<OutboxRun> {
  await withClient(url, (client) => client.query(SCHEMA))
  const emitter = benchEmitter()
  const brokers = services.kafka.brokers.join(',')
  let delivered: () => Promise<number> = async () => 0
  let stopDelivery: () => Promise<unknown> = async () => {}
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
      KAFKA_BROKERS: brokers,
    })
    deliveryPid = relay.pid
    delivered = async () => (await relay.metrics()).relayed
    stopDelivery = async () => {
      await relay.stop()
      await dropSlot(url, slot)
    }
  } else if (arm === 'outbox') {
    const worker = spawnScript('outbox-worker.ts', [url, brokers, OUTBOX_TOPIC])
    await worker.line((line) => line === 'ready', 60_000)
    deliveryPid = worker.pid
    delivered = () =>
      withClient(url, async (client) => {
        const { rows } = await client.query<{ n: number }>('select count(*)::int as n from outbox')
        return -(rows[0]?.n ?? 0)
      })
    stopDelivery = async () => {
      worker.kill('SIGTERM')
      await worker.exited
    }
  }
  try {
    const transaction = async (client: pg.Client, n: number) => {
      await client.query('begin')
      const customerId = n % 5000
      const totalCents = 1000 + (n % 9000)
      const { rows } = await client.query<{ id: string }>({
        name: 'order',
        text: 'insert into orders (customer_id, total_cents) values ($1, $2) returning id',
        values: [customerId, totalCents],
      })
      const orderId = rows[0]?.id as string
      if (arm === 'emit')
        await emitter.emit(client, {
          aggregateType: 'order',
          aggregateId: orderId,
          type: 'order.placed',
          data: orderPlaced(orderId, customerId, totalCents),
        })
      else if (arm === 'outbox')
        await client.query({
          name: 'outbox',
          text: `insert into outbox (aggregate_type, aggregate_id, type, payload) values ('order', $1, 'order.placed', $2)`,
          values: [orderId, JSON.stringify(orderPlaced(orderId, customerId, totalCents))],
        })
      await client.query('commit')
    }
    const load = (durationMs: number) => runLoad({ url, clients, durationMs }, transaction)
    // Warm the clients and the delivery process, then start from empty tables and a fresh checkpoint.
    const warm = await load(settings.warmupMs)
    await waitDelivered(arm, delivered, warm.transactions)
    await withClient(url, async (client) => {
      await client.query('truncate orders, outbox')
      await client.query('checkpoint')
    })
    const base = arm === 'emit' ? await delivered() : 0
    const lsn0 = await withClient(url, currentLsn)
    const window = new CpuWindow({ delivery: deliveryPid, kafka: services.kafkaPid })
    window.trackTree('postgres', services.postmasterPid)
    const sampler = setInterval(() => window.sample(), 200)
    const result = await load(settings.durationMs)
    clearInterval(sampler)
    const cpu = window.stop()
    const loadEnded = performance.now()
    await waitDelivered(arm, async () => (await delivered()) - base, result.transactions)
    const drainSeconds = (performance.now() - loadEnded) / 1000
    const lsn1 = await withClient(url, currentLsn)
    const walBytes = Number(lsn1 - lsn0)
    const bloat = await withClient(url, async (client) => ({
      ordersTable: await pgstattuple(client, 'orders'),
      outboxTable: await pgstattuple(client, 'outbox'),
      outboxIndex: await pgstattuple(client, 'outbox_pkey'),
    }))
    return {
      arm,
      clients,
      rep,
      transactions: result.transactions,
      perSecond: result.perSecond,
      walBytes,
      walBytesPerTransaction: walBytes / result.transactions,
      drainSeconds,
      ordersTable: bloat.ordersTable,
      ...(arm === 'outbox' ? { outboxTable: bloat.outboxTable, outboxIndex: bloat.outboxIndex } : {}),
      cpu,
    }
  } finally {
    await stopDelivery()
  }
}

async function waitDelivered(
  arm: Arm,
  delivered: () => Promise<number>,
  transactions: number,
): Promise<void> {
  if (arm === 'none') return
  // The relay counts what it relayed (up to `transactions`); the worker's table counts down to 0.
  const target = arm === 'emit' ? transactions : 0
  const deadline = Date.now() + 300_000
  while ((await delivered()) < target) {
    if (Date.now() > deadline) throw new Error(`the ${arm} arm did not deliver every event within 5 minutes`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function pgstattuple(client: pg.Client, relation: string): Promise<Bloat> {
  const { rows } = await client.query<{
    table_len: string
    tuple_count: string
    dead_tuple_count: string
    dead_tuple_len: string
    free_space: string
  }>('select * from pgstattuple($1)', [relation])
  const row = rows[0]
  return {
    bytes: Number(row?.table_len ?? 0),
    liveTuples: Number(row?.tuple_count ?? 0),
    deadTuples: Number(row?.dead_tuple_count ?? 0),
    wastedBytes: Number(row?.dead_tuple_len ?? 0) + Number(row?.free_space ?? 0),
  }
}

function cells(runs: OutboxRun[]): OutboxCell[] {
  const keys = [...new Set(runs.map((run) => `${run.arm}|${run.clients}`))]
  return keys.map((key) => {
    const mine = runs.filter((run) => `${run.arm}|${run.clients}` === key)
    const first = mine[0] as OutboxRun
    const of = (pick: (run: OutboxRun) => number) => summarize(mine.map(pick))
    return {
      arm: first.arm,
      clients: first.clients,
      perSecond: of((run) => run.perSecond),
      walBytesPerTransaction: of((run) => run.walBytesPerTransaction),
      drainSeconds: of((run) => run.drainSeconds),
      ...(first.arm === 'outbox'
        ? {
            outboxTableBytes: of((run) => run.outboxTable?.bytes ?? Number.NaN),
            outboxIndexBytes: of((run) => run.outboxIndex?.bytes ?? Number.NaN),
            outboxDeadTuples: of((run) => run.outboxTable?.deadTuples ?? Number.NaN),
            outboxWastedBytes: of(
              (run) =>
                (run.outboxTable?.wastedBytes ?? Number.NaN) + (run.outboxIndex?.wastedBytes ?? Number.NaN),
            ),
          }
        : {}),
      cpuPerTransaction: {
        postgres: of((run) => ((run.cpu.processes.postgres ?? Number.NaN) / run.perSecond) * 1e6),
        delivery: of((run) => ((run.cpu.processes.delivery ?? 0) / run.perSecond) * 1e6),
        kafka: of((run) => ((run.cpu.processes.kafka ?? Number.NaN) / run.perSecond) * 1e6),
      },
      cpu: {
        postgres: of((run) => run.cpu.processes.postgres ?? Number.NaN),
        delivery: of((run) => run.cpu.processes.delivery ?? 0),
        kafka: of((run) => run.cpu.processes.kafka ?? Number.NaN),
        foreign: of((run) => run.cpu.foreign),
      },
    }
  })
}

export function printOutbox(result: OutboxResult): string {
  const lines = [`\nmedian (min–max) over ${result.repeats} repeats of ${result.durationMs / 1000} s:`]
  for (const cell of result.cells)
    lines.push(
      `  ${cell.arm.padEnd(7)} ${String(cell.clients).padStart(2)} clients  ${formatSummary(cell.perSecond).padEnd(26)} tx/s  ` +
        `${formatSummary(cell.walBytesPerTransaction).padEnd(24)} WAL B/tx  drain ${formatSummary(cell.drainSeconds, 2)} s` +
        (cell.outboxTableBytes
          ? `  outbox heap ${formatSummary(cell.outboxTableBytes)} B, index ${formatSummary(cell.outboxIndexBytes as Summary)} B, dead ${formatSummary(cell.outboxDeadTuples as Summary)}`
          : ''),
    )
  for (const pair of result.emitOverOutbox)
    lines.push(
      `  emit ÷ outbox at ${pair.clients} clients: ${formatSummary(pair.ratio)} × tx/s, ${formatSummary(pair.walRatio)} × WAL bytes`,
    )
  return lines.join('\n')
}

if (isMain(import.meta.url)) await runStandalone('outbox', (context) => measure(context), printOutbox)
