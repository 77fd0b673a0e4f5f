/** Kafka's rule for topic names, in words, for messages that say what is expected. */
export const TOPIC_NAME_RULE = '1 to 249 characters of [a-zA-Z0-9._-], not "." or ".."'

const MAX_TOPIC_LENGTH = 249
const TOPIC_CHARACTERS = /^[a-zA-Z0-9._-]+$/

/** The topic of a fact from the template: `{source}` and `{aggregateType}` are replaced. */
export function topicFor(template: string, source: string, aggregateType: string): string {
  return template.replaceAll('{source}', source).replaceAll('{aggregateType}', aggregateType)
}

/**
 * Why `topic` can never be a Kafka topic, or undefined when it can. The broker's own check
 * (`org.apache.kafka.common.internals.Topic.validate`), so a name this accepts is refused only by a
 * collision or a policy.
 *
 * @example
 * ```ts
 * invalidTopicReason('shop.order') // undefined
 * invalidTopicReason('..') // '".." is not a valid topic name'
 * ```
 */
export function invalidTopicReason(topic: string): string | undefined {
  if (topic === '' || topic === '.' || topic === '..') return `"${topic}" is not a valid topic name`
  if (topic.length > MAX_TOPIC_LENGTH)
    return `the topic name is ${topic.length} characters long; Kafka allows ${MAX_TOPIC_LENGTH}`
  if (!TOPIC_CHARACTERS.test(topic))
    return `topic ${JSON.stringify(topic)} has characters Kafka does not allow (only [a-zA-Z0-9._-])`
  return undefined
}
