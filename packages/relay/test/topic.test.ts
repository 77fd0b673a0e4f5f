import { describe, expect, test } from 'vitest'
import { parseConfig } from '../src/config/config.js'
import { invalidTopicReason, topicFor } from '../src/pipeline/topic.js'

describe("Kafka's topic-name rule", () => {
  test('1 to 249 characters of [a-zA-Z0-9._-] are valid, dots included', () => {
    for (const topic of ['a', 'shop.order', 'factlib.dlq', '...', '.a', 'a..b', '_-.', 'x'.repeat(249)])
      expect(invalidTopicReason(topic), topic).toBeUndefined()
  })

  test('"", "." and ".." are refused by name', () => {
    expect(invalidTopicReason('')).toBe('"" is not a valid topic name')
    expect(invalidTopicReason('.')).toBe('"." is not a valid topic name')
    expect(invalidTopicReason('..')).toBe('".." is not a valid topic name')
  })

  test('250 characters are too long; the reason gives the length, not the name', () => {
    expect(invalidTopicReason('x'.repeat(250))).toBe(
      'the topic name is 250 characters long; Kafka allows 249',
    )
  })

  test('any other character is refused, naming the topic', () => {
    for (const topic of ['not a topic!', 'shop/order', 'shop:order', 'café', 'a\nb'])
      expect(invalidTopicReason(topic), topic).toContain('characters Kafka does not allow')
    expect(invalidTopicReason('bad/type')).toBe(
      'topic "bad/type" has characters Kafka does not allow (only [a-zA-Z0-9._-])',
    )
  })
})

test('topicFor fills {source} and {aggregateType}, every time they appear', () => {
  expect(topicFor('{source}.{aggregateType}', 'shop', 'order')).toBe('shop.order')
  expect(topicFor('facts-{source}-{source}', 'shop', 'order')).toBe('facts-shop-shop')
  expect(topicFor('fixed', 'shop', 'order')).toBe('fixed')
})

test('FACTLIB_DLQ_TOPIC follows the same rule: ".." is refused at start, "..." is accepted', () => {
  const env = { DATABASE_URL: 'postgres://u@h/db', KAFKA_BROKERS: 'b:9092' }
  expect(() => parseConfig({ ...env, FACTLIB_DLQ_TOPIC: '..' })).toThrow(
    expect.objectContaining({ code: 'CONFIG_INVALID', variable: 'FACTLIB_DLQ_TOPIC' }),
  )
  expect(parseConfig({ ...env, FACTLIB_DLQ_TOPIC: '...' }).dlqTopic).toBe('...')
})
