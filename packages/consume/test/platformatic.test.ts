import { describe, expect, test } from 'vitest'
import { kafkaUnavailable, waitFor } from '../../../test/harness/index.js'
import { consume } from '../src/platformatic.js'
import {
  allCommitted,
  commitScenario,
  effects,
  expectHandledOnce,
  idOf,
  offsets,
  platformaticConsumer,
  platformaticStream,
} from './support/relay-facts.js'

describe.skipIf(kafkaUnavailable())(
  '@platformatic/kafka consumer helper with the real relay, Kafka and PostgreSQL',
  () => {
    test('consume commits each message after its inbox transaction; a failing fact stays uncommitted and is handled once by the next consumer', async () => {
      const scenario = await commitScenario()
      const { client, relayed, failing, groupId, poison, handle } = scenario
      const failingId = idOf(failing)
      const first = platformaticConsumer(groupId)
      await expect(consume(await platformaticStream(first, relayed.topic), handle)).rejects.toThrow(
        `handler fails on fact ${failingId}`,
      )
      await first.close(true)
      expect((await offsets(groupId, relayed.topic)).committed.get(failing.partition)).toBe(
        Number(failing.message.offset),
      )
      expect((await effects(client)).map((row) => row.factId)).not.toContain(failingId)

      poison.clear()
      const second = platformaticConsumer(groupId)
      const stream = await platformaticStream(second, relayed.topic)
      const consuming = consume(stream, handle)
      await waitFor('every offset committed', () => allCommitted(groupId, relayed.topic), {
        timeoutMs: 30_000,
      })
      await stream.close()
      await consuming
      await second.close(true)

      await expectHandledOnce(scenario)
      await client.end()
    })
  },
)
