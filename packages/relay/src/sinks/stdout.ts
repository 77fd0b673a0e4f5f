import type { Writable } from 'node:stream'
import { FactlibError } from '@factlib/emit'
import { ALL_DELIVERED, type SendResult, type Sink, type SinkReadiness, type SinkRecord } from './sink.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * One JSON line for a record: `{"topic","key","headers","value"}`. The value is the parsed JSON when the
 * content type is JSON, the text when it is UTF-8, else `valueBase64` holds the bytes.
 *
 * @example
 * ```ts
 * recordLine({ topic: 'shop.order', key: 'o-1', value: new TextEncoder().encode('{"total":3}'),
 *   headers: { 'content-type': 'application/json' } })
 * // '{"topic":"shop.order","key":"o-1","headers":{"content-type":"application/json"},"value":{"total":3}}\n'
 * ```
 */
export function recordLine(record: SinkRecord): string {
  const line: Record<string, unknown> = { topic: record.topic, key: record.key, headers: record.headers }
  let text: string | undefined
  try {
    text = utf8.decode(record.value)
  } catch {
    text = undefined
  }
  if (text === undefined) line.valueBase64 = Buffer.from(record.value).toString('base64')
  else if (isJson(record.headers['content-type'])) {
    try {
      line.value = JSON.parse(text)
    } catch {
      line.value = text
    }
  } else line.value = text
  return `${JSON.stringify(line)}\n`
}

function isJson(contentType: string | undefined): boolean {
  const media = contentType?.split(';')[0]?.trim().toLowerCase()
  return media === 'application/json' || (media?.endsWith('+json') ?? false)
}

/**
 * Writes each record as a JSON line (see {@link recordLine}) to a stream, by default standard output: the
 * sink of `factlib dev`. `send` waits for `drain` when the stream is full and resolves once the last line
 * was handed to the operating system.
 *
 * @example
 * ```ts
 * const sink = new StdoutSink()
 * await sink.send(records, new AbortController().signal)
 * ```
 */
export class StdoutSink implements Sink {
  readonly kind = 'stdout' as const
  readonly #stream: Writable
  #failure: Error | undefined

  constructor(options: { stream?: Writable } = {}) {
    this.#stream = options.stream ?? process.stdout
    this.#stream.once('error', (error) => {
      this.#failure = error
    })
  }

  async start(): Promise<void> {}

  async send(records: SinkRecord[], signal: AbortSignal): Promise<SendResult> {
    let last: Promise<void> = Promise.resolve()
    for (const record of records) {
      signal.throwIfAborted()
      this.#throwIfFailed()
      let room = true
      last = new Promise<void>((resolve, reject) => {
        room = this.#stream.write(recordLine(record), (error) =>
          error ? reject(this.#failed(error)) : resolve(),
        )
      })
      // A rejection is awaited below or superseded by the next line's; do not let it surface unhandled.
      last.catch(() => {})
      if (!room) await this.#drain(signal)
    }
    await last
    return ALL_DELIVERED
  }

  readiness(): SinkReadiness {
    return this.#failure
      ? { ready: false, reason: `the output stream failed: ${this.#failure.message}` }
      : { ready: true }
  }

  async close(): Promise<void> {}

  #drain(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => {
        this.#stream.off('drain', onDrain)
        this.#stream.off('close', onClose)
        this.#stream.off('error', onError)
        signal.removeEventListener('abort', onAbort)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onDrain = () => done()
      const onClose = () => done(this.#failed(new Error('the output stream closed')))
      const onError = (error: Error) => done(this.#failed(error))
      const onAbort = () => done(signal.reason)
      this.#stream.once('drain', onDrain)
      this.#stream.once('close', onClose)
      this.#stream.once('error', onError)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failed(this.#failure)
  }

  #failed(error: Error): FactlibError {
    this.#failure ??= error
    return new FactlibError(
      'STDOUT_FAILED',
      `writing records to the output stream failed: ${error.message}`,
      {
        cause: error,
      },
    )
  }
}
