import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  kafkaBrokers,
  kafkaUnavailable,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'

const server = privatePostgres()

describe.skipIf(kafkaUnavailable())('PostgreSQL going away', () => {
  test('a terminated walsender and a restarted server: the relay reconnects and resumes from the slot', async () => {
    const source = uniqueName('reconnect')
    const slot = uniqueName('slot')
    const relay = startRelayProcess(relayEnv(server.url, { FACTLIB_SLOT: slot }))
    await relay.waitForLog('streaming')
    const facts = createEmitter({ source })
    const emit = (n: number) =>
      withClient(server.url, (client) =>
        facts.emit(client, { aggregateType: 'x', aggregateId: 'k', type: 't', data: n }),
      )
    const ids = [(await emit(1)).id]
    const streams = () => relay.logs.filter((log) => log.msg === 'streaming').length

    await withClient(server.url, (client) =>
      client.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1', [
        slot,
      ]),
    )
    ids.push((await emit(2)).id)
    await waitFor('the relay to stream again after its walsender was terminated', () => streams() >= 2)

    await server.stop()
    await server.start()
    ids.push((await emit(3)).id)
    await waitFor('the relay to stream again after the server restarted', () => streams() >= 3, {
      timeoutMs: 60_000,
    })
    ids.push((await emit(4)).id)

    const reader = await readTopics(kafkaBrokers(), [`${source}.x`])
    await reader.until('all four facts', (records) =>
      ids.every((id) => records.some((record) => record.headers.ce_id === id)),
    )
    // In order, possibly with a replayed duplicate after a reconnect, never a gap.
    const firstSeen = [
      ...new Set(reader.records.sort((a, b) => a.offset - b.offset).map((record) => record.headers.ce_id)),
    ]
    expect(firstSeen).toEqual(ids)
    expect(relay.logs.some((log) => log.msg === 'replication session ended; reconnecting')).toBe(true)
    await reader.stop()
    expect(await relay.stop()).toBe(0)
  })

  test('after a session that streamed, the next reconnect starts the backoff again instead of doubling it', async () => {
    const slot = uniqueName('slot')
    const relay = startRelayProcess(relayEnv(server.url, { FACTLIB_SLOT: slot }))
    const streams = () => relay.logs.filter((log) => log.msg === 'streaming').length
    await waitFor('the relay to stream', () => streams() >= 1)
    for (let cut = 1; cut <= 4; cut++) {
      await withClient(server.url, (client) =>
        client.query(
          'select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1',
          [slot],
        ),
      )
      await waitFor(`the relay to stream again after cut ${cut}`, () => streams() >= cut + 1)
    }
    const delays = relay.logs
      .filter((log) => log.msg === 'replication session ended; reconnecting')
      .map((log) => Number(log.retryInMs))
    expect(delays).toHaveLength(4)
    // The first delay of the backoff is 0.5–1 s; doubling would reach 4–8 s by the fourth cut.
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(1_000)
    expect(await relay.stop()).toBe(0)
  })
})
