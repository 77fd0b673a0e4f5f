import { createEmitter, type Emitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase, kafkaUnavailable, uniqueName, withClient } from '../../../test/harness/index.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { parseLsn } from '../src/wal/lsn.js'
import { drain, factIdsIn, summaryOf } from './support/drain.js'
import { confirmedFlush } from './support/slot.js'

const db = await freshDatabase('drain')

/** `count` transactions of `perTransaction` facts each, committed one after another; their ids in order. */
function emitBacklog(facts: Emitter, count: number, perTransaction: number, pad = 0): Promise<string[]> {
  return withClient(db.url, async (client) => {
    const ids: string[] = []
    for (let transaction = 0; transaction < count; transaction++) {
      await client.query('begin')
      const emitted = await facts.emit(
        client,
        Array.from({ length: perTransaction }, (_, index) => ({
          aggregateType: 'x',
          aggregateId: `a${index % 4}`,
          type: 't',
          data: { transaction, index, pad: 'p'.repeat(pad) },
        })),
      )
      await client.query('commit')
      ids.push(...emitted.map((fact) => fact.id))
    }
    return ids
  })
}

const lsn = (text: string | null | undefined) => parseLsn(text ?? '0/0')

describe.skipIf(kafkaUnavailable())('factlib relay --drain', () => {
  test('an empty backlog exits 0 at once; a backlog drains completely and the slot is confirmed past the target', async () => {
    const source = uniqueName('drain')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    const empty = await drain(env)
    expect(empty.code, empty.stderr).toBe(0)
    expect(summaryOf(empty)).toMatchObject({ outcome: 'drained', exitCode: 0, facts: 0 })
    expect(summaryOf(empty).seconds).toBeLessThan(5)

    const ids = await emitBacklog(createEmitter({ source }), 50, 20)
    const result = await drain(env)
    expect(result.code, result.stderr).toBe(0)
    const summary = summaryOf(result)
    expect(summary).toMatchObject({ outcome: 'drained', reason: 'target', facts: 1000 })
    expect(summary.bytes).toBeGreaterThan(0)
    expect(lsn(summary.endLsn)).toBeGreaterThanOrEqual(lsn(summary.targetLsn))
    expect(await confirmedFlush(db.url, env.FACTLIB_SLOT)).toBe(summary.endLsn)
    expect(await factIdsIn(`${source}.x`)).toEqual(expect.arrayContaining(ids))
    expect(new Set(await factIdsIn(`${source}.x`)).size).toBe(ids.length)
    // Nothing bound a port, and no error was logged.
    expect(result.stderr).not.toMatch(/"level":"(error|warn)"/)
  })

  test('facts committed while a drain runs are relayed by it or the next run, never lost', async () => {
    const source = uniqueName('during')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    const facts = createEmitter({ source })
    expect((await drain(env)).code).toBe(0)
    const before = await emitBacklog(facts, 40, 50, 200)
    const first = startRelayProcess(env, ['--drain'])
    await first.waitForLog('draining')
    const during: string[] = []
    let exited = false
    void first.exited.then(() => {
      exited = true
    })
    while (!exited || during.length === 0) during.push(...(await emitBacklog(facts, 1, 5)))
    expect(await first.exited).toBe(0)
    const firstSummary = summaryOf(first.stdout)
    expect(firstSummary.facts).toBeGreaterThanOrEqual(before.length)

    const second = await drain(env)
    expect(second.code, second.stderr).toBe(0)
    const secondSummary = summaryOf(second)
    expect(firstSummary.facts + secondSummary.facts).toBeGreaterThanOrEqual(before.length + during.length)
    expect(lsn(await confirmedFlush(db.url, env.FACTLIB_SLOT))).toBeGreaterThanOrEqual(
      lsn(secondSummary.targetLsn),
    )
    const relayed = new Set(await factIdsIn(`${source}.x`))
    expect([...before, ...during].filter((id) => !relayed.has(id))).toEqual([])
  })

  test("--max-facts stops at a commit after that many facts (another tool's messages do not count): exactly the acknowledged facts are confirmed, the next run continues", async () => {
    const source = uniqueName('bound')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    expect((await drain(env)).code).toBe(0)
    const wal = await createWalReader(db.url)
    // Another tool's messages first: they are not facts and must not count against the bound.
    await withClient(db.url, async (client) => {
      for (let index = 0; index < 15; index++)
        await client.query(`select pg_logical_emit_message(true, 'othertool', '{"n":${index}}')`)
    })
    const ids = await emitBacklog(createEmitter({ source }), 20, 2)
    const messages = (await wal.messages()).filter((message) => message.prefix === source)
    await wal.drop()

    const bounded = await drain(env, ['--max-facts', '10'])
    expect(bounded.code, bounded.stderr).toBe(3)
    expect(summaryOf(bounded)).toMatchObject({ outcome: 'bounded', reason: 'max-facts', facts: 10 })
    // The fifth transaction's commit end, not one byte more.
    expect(await confirmedFlush(db.url, env.FACTLIB_SLOT)).toBe(messages[9]?.commitEndLsn)
    expect(summaryOf(bounded).endLsn).toBe(messages[9]?.commitEndLsn)
    expect(await factIdsIn(`${source}.x`)).toEqual(expect.arrayContaining(ids.slice(0, 10)))
    expect((await factIdsIn(`${source}.x`)).length).toBe(10)

    const rest = await drain(env)
    expect(rest.code, rest.stderr).toBe(0)
    expect(summaryOf(rest)).toMatchObject({ outcome: 'drained', facts: 30 })
    const all = await factIdsIn(`${source}.x`)
    expect(all.length).toBe(40)
    expect(new Set(all)).toEqual(new Set(ids))
  })

  test('--max-facts stops after a non-transactional message too: no commit follows one to stop at', async () => {
    const source = uniqueName('standalone')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    expect((await drain(env)).code).toBe(0)
    // The relay's own prefix, but outside any transaction: each becomes a dead letter, which counts.
    await withClient(db.url, async (client) => {
      for (let index = 0; index < 3; index++)
        await client.query('select pg_logical_emit_message(false, $1, $2)', [source, `{"v":1,"n":${index}}`])
    })
    const bounded = await drain(env, ['--max-facts', '2'])
    expect(bounded.code, bounded.stderr).toBe(3)
    expect(summaryOf(bounded)).toMatchObject({ outcome: 'bounded', reason: 'max-facts', facts: 2 })
    const rest = await drain(env)
    expect(summaryOf(rest)).toMatchObject({ outcome: 'drained', facts: 1 })
  })

  test('a drain while the service relay holds the slot exits 4 at once, without an error storm', async () => {
    const env = relayEnv(db.url, { FACTLIB_SOURCES: uniqueName('busy') })
    const service = startRelayProcess(env)
    await service.waitForLog('streaming')
    const started = Date.now()
    const busy = await drain(env)
    const took = Date.now() - started
    expect(busy.code, busy.stderr).toBe(4)
    expect(summaryOf(busy)).toMatchObject({ outcome: 'busy', facts: 0 })
    expect(took).toBeLessThan(10_000)
    expect(busy.stderr).not.toMatch(/"level":"(error|warn)"/)
    expect(await service.stop()).toBe(0)
  })

  test('two drains at once: one wins, the other exits 4', async () => {
    const source = uniqueName('twice')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    expect((await drain(env)).code).toBe(0)
    const ids = await emitBacklog(createEmitter({ source }), 40, 500, 500)
    const winner = startRelayProcess(env, ['--drain'])
    await winner.waitForLog('streaming')
    // Frozen while it holds the slot, so that the second run certainly meets it there.
    winner.kill('SIGSTOP')
    const active = await withClient(db.url, async (client) => {
      const { rows } = await client.query<{ active: boolean }>(
        'select active from pg_replication_slots where slot_name = $1',
        [env.FACTLIB_SLOT],
      )
      return rows[0]?.active
    })
    expect(active).toBe(true)
    const loser = await drain(env)
    winner.kill('SIGCONT')
    expect(loser.code, loser.stderr).toBe(4)
    expect(summaryOf(loser).outcome).toBe('busy')
    expect(await winner.exited).toBe(0)
    expect(summaryOf(winner.stdout)).toMatchObject({ outcome: 'drained', facts: ids.length })
    expect(new Set(await factIdsIn(`${source}.x`))).toEqual(new Set(ids))
  })
})
