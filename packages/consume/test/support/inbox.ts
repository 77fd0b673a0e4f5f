import { randomUUID } from 'node:crypto'
import { expect, test } from 'vitest'
import { uniqueName, waitFor, withClient } from '../../../../test/harness/index.js'
import { createInbox, decode, type Fact, type Inbox, migrateInbox, type Queryable } from '../../src/index.js'

/** A fact as a record of the relay decodes to, with a fresh id. */
export function fact(type = 'order.placed', aggregateId = '42'): Fact<{ total: number }> {
  return decode({
    topic: 'orders.order',
    partition: 0,
    message: {
      offset: '0',
      key: aggregateId,
      value: JSON.stringify({ total: 9 }),
      headers: {
        ce_specversion: '1.0',
        ce_id: randomUUID(),
        ce_source: 'orders',
        ce_type: type,
        ce_aggregatetype: 'order',
        ce_aggregateid: aggregateId,
        'content-type': 'application/json',
      },
    },
  })
}

/** The handler's write, the same for every driver: one row per run in the effects table. */
export const effectSql = (effects: string) => `insert into ${effects} (consumer, fact_id) values ($1, $2)`

/** What a test does inside the handler after its write: wait for `hold`, then throw if `fail`. */
export interface Step {
  hold?: () => Promise<void>
  fail?: boolean
}

export async function afterWrite(step: Step = {}): Promise<void> {
  await step.hold?.()
  if (step.fail) throw new Error('handler failed')
}

/** One driver as its users hold it, for {@link inboxContract}. */
export interface Driver {
  /**
   * In one transaction of the driver, claim `fact` in `inbox`; the first time, write the effect through the
   * driver's own API (one row of `effects`), then {@link afterWrite}. Resolves to what the claim said.
   */
  handle(inbox: Inbox, fact: Fact, effects: string, step?: Step): Promise<boolean>
  /** Run `work` in one transaction of the driver, with the core's view of it. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>
  /** Give the inbox the driver's pool or root client, as a mistaken user would. */
  misuse(inbox: Inbox): unknown
  /** The code `misuse` fails with. */
  refusedWith: string
}

/** A connection of a pg-shaped driver (node-postgres, Neon WebSocket), for the duration of `work`. */
export type Connected = <T>(work: (client: Queryable) => Promise<T>) => Promise<T>

/**
 * A pg-shaped driver, which uses the core directly: `inbox.handle(client, …)` on a connection that
 * `connected` opens; `misuse` hands the inbox the driver's pool.
 */
export const pgShaped = (connected: Connected, misuse: Driver['misuse']) => (): Driver => ({
  handle: (inbox, each, effects, step) =>
    connected((client) =>
      inbox.handle(client, each, async (fact, tx) => {
        await tx.query(effectSql(effects), [inbox.consumer, fact.id])
        await afterWrite(step)
      }),
    ),
  transaction: (work) =>
    connected(async (client) => {
      await client.query('begin', [])
      const result = await work(client)
      await client.query('commit', [])
      return result
    }),
  misuse,
  refusedWith: 'CONSUME_POOL_NOT_ALLOWED',
})

/** A fresh inbox table and effects table in the database at `url`. */
export async function inboxTables(url: string) {
  const table = uniqueName('inbox')
  const effects = uniqueName('effects')
  await withClient(url, async (client) => {
    await migrateInbox(client, table)
    await client.query(`create table ${effects} (consumer text not null, fact_id text not null)`)
  })
  return { table, effects, inbox: (consumer = 'shipping') => createInbox({ consumer, table }) }
}

/** Every row of `table`, as `consumer fact_id` strings, sorted. */
export const rowsOf = (url: string, table: string) =>
  withClient(url, async (client) =>
    (await client.query<{ row: string }>(`select consumer || ' ' || fact_id as row from ${table}`)).rows
      .map(({ row }) => row)
      .sort(),
  )

/** Wait until `count` sessions in the database at `url` wait on a lock (the unique index, an advisory lock). */
export const lockWaiters = (url: string, count: number) =>
  waitFor(`${count} session(s) to wait on a lock`, () =>
    withClient(url, async (client) => {
      const { rows } = await client.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      )
      return rows[0]!.n === count
    }),
  )

export function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

const row = (inbox: Inbox, fact: Fact) => `${inbox.consumer} ${fact.id}`

/** The inbox's guarantees, as tests of one driver: call inside its `describe`. */
export function inboxContract(url: string, driver: () => Driver) {
  test('a redelivered fact is skipped: its effect happens once, one inbox row per distinct fact', async () => {
    const { inbox, effects, table } = await inboxTables(url)
    const shipping = inbox()
    const [a, b] = [fact(), fact('order.paid')]
    const handled: boolean[] = []
    for (const each of [a, b, a, b, a]) handled.push(await driver().handle(shipping, each, effects))
    expect(handled).toEqual([true, true, false, false, false])
    expect(await rowsOf(url, effects)).toEqual([row(shipping, a), row(shipping, b)].sort())
    expect(await rowsOf(url, table)).toEqual([row(shipping, a), row(shipping, b)].sort())
  })

  test('a handler that throws leaves none of its writes and no inbox row; the retry handles it once', async () => {
    const { inbox, effects, table } = await inboxTables(url)
    const shipping = inbox()
    const one = fact()
    await expect(driver().handle(shipping, one, effects, { fail: true })).rejects.toThrow('handler failed')
    expect(await rowsOf(url, effects)).toEqual([])
    expect(await rowsOf(url, table)).toEqual([])
    expect(await driver().handle(shipping, one, effects)).toBe(true)
    expect(await driver().handle(shipping, one, effects)).toBe(false)
    expect(await rowsOf(url, effects)).toEqual([row(shipping, one)])
  })

  test('two consumers over one inbox table each handle every fact once', async () => {
    const { inbox, effects, table } = await inboxTables(url)
    const consumers = [inbox('shipping'), inbox('billing')]
    const facts = [fact(), fact()]
    const handled: boolean[] = []
    for (let round = 0; round < 2; round++)
      for (const each of facts)
        for (const consumer of consumers) handled.push(await driver().handle(consumer, each, effects))
    expect(handled).toEqual([true, true, true, true, false, false, false, false])
    const expected = facts.flatMap((each) => consumers.map((consumer) => row(consumer, each))).sort()
    expect(await rowsOf(url, effects)).toEqual(expected)
    expect(await rowsOf(url, table)).toEqual(expected)
  })

  test.each([
    ['commits, the second skips the fact', false, [true, false]],
    ['rolls back, the second handles it', true, ['failed', true]],
  ] as const)(
    'concurrent redelivery on two connections: the second waits on the inbox row; when the first %s',
    async (_, fail, outcome) => {
      const { inbox, effects, table } = await inboxTables(url)
      const shipping = inbox()
      const one = fact()
      const reached = deferred()
      const release = deferred()
      const first = driver().handle(shipping, one, effects, {
        hold: () => {
          reached.resolve()
          return release.promise
        },
        fail,
      })
      await reached.promise
      const second = driver().handle(shipping, one, effects)
      await lockWaiters(url, 1)
      release.resolve()
      expect([await first.catch(() => 'failed'), await second]).toEqual(outcome)
      expect(await rowsOf(url, effects)).toEqual([row(shipping, one)])
      expect(await rowsOf(url, table)).toEqual([row(shipping, one)])
    },
  )

  test("purge deletes only this consumer's rows handled before the cut-off and returns how many", async () => {
    const { inbox, effects, table } = await inboxTables(url)
    const [shipping, billing] = [inbox('shipping'), inbox('billing')]
    const [old1, old2, recent] = [fact(), fact(), fact()]
    for (const each of [old1, old2, recent]) await driver().handle(shipping, each, effects)
    await driver().handle(billing, old1, effects)
    await withClient(url, (client) =>
      client.query(`update ${table} set handled_at = now() - interval '30 days' where fact_id <> $1`, [
        recent.id,
      ]),
    )
    const cutOff = new Date(Date.now() - 86_400_000)
    expect(await driver().transaction((tx) => shipping.purge(tx, cutOff))).toBe(2)
    expect(await driver().transaction((tx) => shipping.purge(tx, cutOff))).toBe(0)
    expect(await rowsOf(url, table)).toEqual([row(billing, old1), row(shipping, recent)].sort())
  })

  test('migrateInbox through the driver creates the table, and again changes nothing', async () => {
    const table = uniqueName('inbox')
    for (let run = 0; run < 2; run++) await driver().transaction((tx) => migrateInbox(tx, table))
    const shipping = createInbox({ consumer: 'shipping', table })
    const one = fact()
    expect(await driver().transaction((tx) => shipping.claim(tx, one))).toBe(true)
    expect(await driver().transaction((tx) => shipping.claim(tx, one))).toBe(false)
    expect(await rowsOf(url, table)).toEqual([row(shipping, one)])
  })

  test('the pool or root client is refused', async () => {
    const { misuse, refusedWith } = driver()
    const { inbox } = await inboxTables(url)
    await expect((async () => misuse(inbox()))()).rejects.toMatchObject({
      code: refusedWith,
      message: expect.stringMatching(/pass /),
    })
  })
}
