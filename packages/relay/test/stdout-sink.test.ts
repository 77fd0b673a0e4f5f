import { Writable } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import type { SinkRecord } from '../src/sinks/sink.js'
import { recordLine, StdoutSink } from '../src/sinks/stdout.js'

const bytes = (text: string) => new TextEncoder().encode(text)
const record = (
  value: Uint8Array,
  headers: Record<string, string> = {},
  key: string | null = 'o-1',
): SinkRecord => ({
  topic: 'shop.order',
  key,
  value,
  headers: { ce_id: 'id-1', ...headers },
})

/** A stream that holds each write until `release()`: a slow reader. */
function slowStream() {
  const written: string[] = []
  const held: Array<() => void> = []
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString('utf8'))
      held.push(() => callback())
    },
  })
  return { stream, written, release: () => held.shift()?.() }
}

describe('recordLine', () => {
  test('one JSON line per record; JSON values parsed, text as a string, other bytes as base64', () => {
    expect(
      recordLine(record(bytes('{"total":3,"items":["a"]}'), { 'content-type': 'application/json' })),
    ).toBe(
      '{"topic":"shop.order","key":"o-1","headers":{"ce_id":"id-1","content-type":"application/json"},"value":{"total":3,"items":["a"]}}\n',
    )
    expect(
      recordLine(record(bytes('[1,2]'), { 'content-type': 'application/cloudevents+json; charset=utf-8' })),
    ).toBe(
      '{"topic":"shop.order","key":"o-1","headers":{"ce_id":"id-1","content-type":"application/cloudevents+json; charset=utf-8"},"value":[1,2]}\n',
    )
    expect(recordLine(record(bytes('{not json'), { 'content-type': 'application/json' }))).toBe(
      '{"topic":"shop.order","key":"o-1","headers":{"ce_id":"id-1","content-type":"application/json"},"value":"{not json"}\n',
    )
    expect(recordLine(record(bytes('héllo\nworld'), { 'content-type': 'text/plain' }))).toBe(
      '{"topic":"shop.order","key":"o-1","headers":{"ce_id":"id-1","content-type":"text/plain"},"value":"héllo\\nworld"}\n',
    )
    expect(recordLine(record(new Uint8Array([0xff, 0x00, 0xc3, 0x28]), {}, null))).toBe(
      '{"topic":"shop.order","key":null,"headers":{"ce_id":"id-1"},"valueBase64":"/wDDKA=="}\n',
    )
    expect(recordLine(record(new Uint8Array(0)))).toBe(
      '{"topic":"shop.order","key":"o-1","headers":{"ce_id":"id-1"},"value":""}\n',
    )
  })
})

describe('StdoutSink', () => {
  test('writes the batch in order and is always ready', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'))
        callback()
      },
    })
    const sink = new StdoutSink({ stream })
    await sink.start()
    const records = [record(bytes('one')), record(bytes('two')), record(bytes('three'))]
    await sink.send(records, new AbortController().signal)
    expect(lines).toEqual(records.map(recordLine))
    expect(sink.readiness()).toEqual({ ready: true })
    expect(sink.kind).toBe('stdout')
  })

  test('waits for drain when the stream is full, and resolves only once the last line is written', async () => {
    const { stream, written, release } = slowStream()
    const sink = new StdoutSink({ stream })
    let resolved = false
    const sending = sink
      .send([record(bytes('one')), record(bytes('two'))], new AbortController().signal)
      .then(() => {
        resolved = true
      })
    await tick()
    expect(written).toHaveLength(1)
    release()
    await tick()
    expect(written).toHaveLength(2)
    expect(resolved).toBe(false)
    release()
    await sending
    expect(written).toEqual([recordLine(record(bytes('one'))), recordLine(record(bytes('two')))])
  })

  test('an abort while waiting for drain rejects with the reason', async () => {
    const { stream, written } = slowStream()
    const sink = new StdoutSink({ stream })
    const controller = new AbortController()
    const sending = sink.send([record(bytes('one')), record(bytes('two'))], controller.signal)
    await tick()
    controller.abort()
    await expect(sending).rejects.toMatchObject({ name: 'AbortError' })
    expect(written).toHaveLength(1)
  })

  test('a failed stream rejects the send and makes the sink not ready', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
      },
    })
    const sink = new StdoutSink({ stream })
    await expect(sink.send([record(bytes('one'))], new AbortController().signal)).rejects.toMatchObject({
      code: 'STDOUT_FAILED',
      message: expect.stringContaining('EPIPE'),
    })
    expect(sink.readiness()).toEqual({ ready: false, reason: 'the output stream failed: write EPIPE' })
  })
})
