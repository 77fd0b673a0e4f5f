// Lambda Kafka events built from records actually in Kafka, exactly as the AWS Lambda developer guide's
// example events show them: records grouped by "<topic>-<partition>", base64 key and value, each header a
// single-key object of byte values.
import type { MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda'
import { kafkaBrokers } from './index.js'
import type { RawRecord } from './kafka-reader.js'

/** One record as the Lambda event source mapping puts it in an event. */
export function lambdaRecord({ topic, partition, message }: RawRecord): MSKRecord {
  const headers = Object.entries(message.headers ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((each) => ({
      [name]: [...Buffer.from(each as Buffer | string)],
    })),
  )
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: 'CREATE_TIME',
    key: message.key?.toString('base64') ?? '',
    value: message.value?.toString('base64') ?? '',
    headers,
  }
}

/** Records grouped by `"<topic>-<partition>"`, each group in offset order. */
function grouped(records: RawRecord[]): Record<string, MSKRecord[]> {
  const groups: Record<string, MSKRecord[]> = {}
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`
    groups[key] = [...(groups[key] ?? []), lambdaRecord(record)]
  }
  for (const group of Object.values(groups)) group.sort((a, b) => a.offset - b.offset)
  return groups
}

/** An Amazon MSK event (`eventSource: "aws:kafka"`) holding `records`. */
export function mskEvent(records: RawRecord[], brokers = kafkaBrokers()): MSKEvent {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/factlib/abcd1234-abcd-cafe-abab-9876543210ab-4',
    bootstrapServers: brokers.join(','),
    records: grouped(records),
  }
}

/** A self-managed Apache Kafka event (`eventSource: "SelfManagedKafka"`) holding `records`. */
export function selfManagedEvent(records: RawRecord[], brokers = kafkaBrokers()): SelfManagedKafkaEvent {
  return {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: brokers.join(','),
    records: grouped(records),
  }
}
