import { Writable } from 'node:stream'

/** Where the status line is written: standard error, a terminal or not. */
export interface StatusStream {
  write(text: string): unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

/** Options of {@link StatusLine}. */
export interface StatusLineOptions {
  /** Redraw one line in place (a terminal), or print a plain line every `intervalMs` (a pipe or file). */
  inPlace: boolean
  /** How often a terminal's line is redrawn. @default 500 */
  redrawMs?: number
  /** How often a plain line is printed when not in place. @default 10_000 */
  intervalMs?: number
  /** The status text; called on every draw. */
  render(): string
}

const CLEAR_LINE = '\r\x1b[2K'

/**
 * One live status line at the bottom of a terminal, redrawn in place with carriage return and
 * clear-line, or, when the output is not a terminal, printed as a plain line at an interval. Other output
 * goes through {@link StatusLine.print} or {@link StatusLine.writable}, which clear the line first and
 * redraw it after, so the status never tears a fact or log line.
 */
export class StatusLine {
  readonly #stream: StatusStream
  readonly #options: StatusLineOptions
  #timer: NodeJS.Timeout | undefined
  #shown = false
  #redraw: NodeJS.Immediate | undefined

  constructor(stream: StatusStream, options: StatusLineOptions) {
    this.#stream = stream
    this.#options = options
  }

  start(): void {
    if (this.#timer) return
    if (this.#options.inPlace) {
      this.#draw()
      this.#timer = setInterval(() => this.#draw(), this.#options.redrawMs ?? 500)
    } else
      this.#timer = setInterval(
        () => this.#stream.write(`${this.#options.render()}\n`),
        this.#options.intervalMs ?? 10_000,
      )
    this.#timer.unref()
  }

  /** Stop drawing and remove the line from the terminal. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    clearImmediate(this.#redraw)
    this.#clear()
  }

  /** Write `text` (whole lines) to `to` above the status line. */
  print(to: { write(text: string): unknown }, text: string): void {
    this.#clear()
    to.write(text)
    this.#scheduleRedraw()
  }

  /**
   * A stream that writes to `to` above the status line, e.g. for the stdout sink; `rewrite` may change
   * each chunk first.
   */
  writable(to: NodeJS.WritableStream, rewrite?: (chunk: string) => string): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.#clear()
        to.write(rewrite ? rewrite(chunk.toString('utf8')) : chunk, (error) => callback(error ?? null))
        this.#scheduleRedraw()
      },
    })
  }

  #scheduleRedraw(): void {
    if (!this.#options.inPlace || !this.#timer) return
    this.#redraw ??= setImmediate(() => {
      this.#redraw = undefined
      if (this.#timer) this.#draw()
    })
  }

  #draw(): void {
    // A line wider than the terminal wraps, and clear-line would then leave its first part behind.
    const width = Math.max(20, (this.#stream.columns ?? 80) - 1)
    const text = this.#options.render()
    this.#stream.write(`${CLEAR_LINE}${text.length > width ? `${text.slice(0, width - 1)}…` : text}`)
    this.#shown = true
  }

  #clear(): void {
    if (!this.#shown) return
    this.#stream.write(CLEAR_LINE)
    this.#shown = false
  }
}
