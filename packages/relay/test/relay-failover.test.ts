import { createEmitter } from '@factlib/emit'
import pg from 'pg'
import { describe, expect, onTestFinished, test } from 'vitest'
import { type RelayProcess, relayEnv, runCli, startRelayProcess } from '../../../test/harness/cli.js'
import {
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { type Consumed, deduplicated, readTopics, valueText } from '../../../test/harness/kafka-reader.js'
import { pairBehindProxy, waitForSyncedSlot } from '../../../test/harness/standby.js'

interface Committed {
  id: string
  aggregate: string
  seq: number
  at: number
}

/**
 * Writers that emit facts continuously, one transaction each, one loop per aggregate (so each aggregate's
 * facts have one order), through `url`. `committed` holds the facts whose COMMIT was acknowledged; a fact
 * whose commit failed (the server died) may or may not exist, and the loop goes on with the next number.
 */
function startWriters(url: string, source: string, aggregates: string[]) {
  const facts = createEmitter({ source })
  const committed: Committed[] = []
  let stopping = false
  const loops = aggregates.map(async (aggregate) => {
    let client: pg.Client | undefined
    let seq = 0
    while (!stopping) {
      try {
        if (!client) {
          const fresh = new pg.Client({ connectionString: url })
          // A server that dies under a connected client makes it emit 'error'.
          fresh.on('error', () => {})
          client = fresh
          await fresh.connect()
        }
        seq += 1
        const fact = await facts.emit(client, {
          aggregateType: 'agg',
          aggregateId: aggregate,
          type: 't',
          data: { seq },
        })
        committed.push({ id: fact.id, aggregate, seq, at: Date.now() })
      } catch {
        await client?.end().catch(() => {})
        client = undefined
        // The endpoint is down or switching: try again shortly, as an application would.
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await client?.end().catch(() => {})
  })
  return {
    committed,
    async stop() {
      stopping = true
      await Promise.all(loops)
    },
  }
}

const streams = (relay: RelayProcess) => relay.logs.filter((log) => log.msg === 'streaming').length
const failure = (relay: RelayProcess) =>
  JSON.stringify(relay.logs.filter((log) => log.msg === 'relay failed' || 'raw' in log))

interface Check {
  id: string
  status: 'pass' | 'warn' | 'fail'
  detail: string
  fix?: string
}
const doctor = async (env: Record<string, string>, args: string[] = []) => {
  const { stdout } = await runCli(['doctor', '--json', ...args], { env })
  const { checks } = JSON.parse(stdout) as { checks: Check[] }
  return Object.fromEntries(checks.map((check) => [check.id, check]))
}

describe.skipIf(kafkaUnavailable())('primary failover to a streaming standby', () => {
  test('a failover slot continues on the promoted standby; a slot without it is reported lost, never recreated', {
    timeout: 120_000,
  }, async () => {
    const began = Date.now()
    // Relays and writers reach the database through the proxy, as through the DNS name of the primary.
    const pair = await pairBehindProxy({ synchronous: true })
    const { endpoint } = pair
    const source = uniqueName('failover')
    const env = relayEnv(endpoint, { FACTLIB_SOURCES: source })
    const unprotectedEnv = {
      DATABASE_URL: endpoint,
      FACTLIB_SINK: 'stdout',
      FACTLIB_SOURCES: source,
      FACTLIB_SLOT: uniqueName('slot'),
      FACTLIB_PUBLICATION: uniqueName('pub'),
      FACTLIB_SLOT_FAILOVER: 'false',
    }
    const relay = startRelayProcess(env)
    const unprotected = startRelayProcess(unprotectedEnv)
    await Promise.all([relay.waitForLog('streaming'), unprotected.waitForLog('streaming')])
    const flags = await withClient(pair.primary.url, async (client) => {
      const { rows } = await client.query<{ slot_name: string; failover: boolean }>(
        `select slot_name, failover from pg_replication_slots where slot_type = 'logical'`,
      )
      return Object.fromEntries(rows.map((row) => [row.slot_name, row.failover]))
    })
    expect(flags).toEqual({ [env.FACTLIB_SLOT]: true, [unprotectedEnv.FACTLIB_SLOT]: false })

    const writers = startWriters(endpoint, source, ['a', 'b', 'c', 'd'])
    onTestFinished(() => writers.stop())
    const reader = await readTopics(kafkaBrokers(), [`${source}.agg`])
    onTestFinished(() => reader.stop())
    await reader.until('facts flowing', (records) => records.length >= 100)
    await waitForSyncedSlot(pair.standby.url, env.FACTLIB_SLOT)
    const ready = Date.now()

    const names = { FACTLIB_SLOT: env.FACTLIB_SLOT, FACTLIB_PUBLICATION: env.FACTLIB_PUBLICATION }
    const primaryChecks = await doctor({ DATABASE_URL: pair.primary.url, ...names }, [
      '--standby-url',
      pair.standby.url,
    ])
    expect(primaryChecks.failover).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('failover = true'),
    })
    expect(primaryChecks.standby_slots).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining(`${pair.physicalSlot} (active)`),
    })
    expect(primaryChecks.standby_slots?.detail).toContain('the relay receives nothing new')
    expect(primaryChecks.standby_copy).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('synced copy'),
    })
    const unprotectedChecks = await doctor({
      DATABASE_URL: pair.primary.url,
      FACTLIB_SLOT: unprotectedEnv.FACTLIB_SLOT,
      FACTLIB_PUBLICATION: unprotectedEnv.FACTLIB_PUBLICATION,
      FACTLIB_SLOT_FAILOVER: 'false',
    })
    expect(unprotectedChecks.failover).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('1 streaming standby is attached'),
      fix: expect.stringContaining('FACTLIB_SLOT_FAILOVER=true'),
    })

    // The failover: the primary's host dies, the standby is promoted, the endpoint moves to it.
    const crashed = Date.now()
    await pair.failOver()
    const switched = Date.now()
    await waitFor('the relay to stream from the promoted standby', () => streams(relay) >= 2, {
      timeoutMs: 30_000,
    })
    const resumed = Date.now()
    await waitFor(
      'facts committed on the promoted standby',
      () => writers.committed.filter((fact) => fact.at > switched).length >= 200,
      { timeoutMs: 30_000 },
    )
    await writers.stop()

    // Every fact whose commit was acknowledged is in Kafka, each aggregate's in order once deduplicated.
    const ids = new Set(writers.committed.map((fact) => fact.id))
    await reader.until('every committed fact in Kafka', (records) => {
      const seen = new Set(records.map((record) => record.headers.ce_id))
      return [...ids].every((id) => seen.has(id))
    })
    const records = [...reader.records].sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    const unique = deduplicated(records)
    const sequences = new Map<string, number[]>()
    for (const record of unique) {
      const aggregate = record.headers.ce_aggregateid ?? ''
      sequences.set(aggregate, [...(sequences.get(aggregate) ?? []), seqOf(record)])
    }
    for (const [aggregate, seqs] of sequences)
      expect(seqs, `aggregate ${aggregate}`).toEqual([...seqs].sort((a, b) => a - b))
    expect(relay.logs.some((log) => log.msg === 'replication session ended; reconnecting')).toBe(true)

    // Without a failover slot: not ready, exit 1, and a message that says what was lost and what to do.
    expect(await unprotected.exited).toBe(1)
    const said = failure(unprotected)
    expect(said).toContain('SLOT_MISSING')
    expect(said).toMatch(
      /this server was promoted from a standby \(timeline 2, which began at [0-9A-F]+\/[0-9A-F]+, after this relay last confirmed [0-9A-F]+\/[0-9A-F]+ on the previous primary\)/,
    )
    expect(said).toContain('Lost: every fact committed after')
    expect(said).toContain('Runbook:')
    const again = startRelayProcess(unprotectedEnv)
    expect(await again.exited).toBe(1)
    expect(failure(again)).toContain('this server was promoted from a standby (timeline 2')
    expect(failure(again)).toContain('[SLOT_MISSING]')
    // Never a silent new slot.
    expect(
      await withClient(
        pair.standby.url,
        async (client) =>
          (
            await client.query('select 1 from pg_replication_slots where slot_name = $1', [
              unprotectedEnv.FACTLIB_SLOT,
            ])
          ).rowCount,
      ),
    ).toBe(0)
    expect(await relay.stop()).toBe(0)

    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
    console.info(
      `failover: pair and relays ready in ${seconds(ready - began)}; crash → endpoint switched ${seconds(switched - crashed)}; ` +
        `crash → relay streaming again ${seconds(resumed - crashed)}; ${writers.committed.length} facts committed, ` +
        `${records.length - unique.length} duplicates in Kafka, ${unique.length - ids.size} facts of unacknowledged commits`,
    )
  })
})

function seqOf(record: Consumed): number {
  return (JSON.parse(valueText(record)) as { seq: number }).seq
}
