/**
 * How long the sink has been stuck, whatever the sink: the pipeline reports each batch it hands over and
 * what became of it, the sink reports its failed attempts (`RelayMetrics.produceError`).
 *
 * The stall is the time since the oldest batch not yet acknowledged was first handed to the sink, counted
 * while a batch is with the sink, and 0 when none is. "First": a batch that was handed over and then
 * abandoned when its replication session ended (a rejecting sink, a lost database connection) is read
 * again and handed over anew by the next session; the clock keeps the first time until the sink
 * acknowledges a batch. A healthy sink acknowledges within milliseconds, a slow one within its own
 * timeouts; one that retries a failure for ever (an ACL denied on a topic, a broker refusing records for
 * reasons that look retriable) stalls every source behind it, and the clock shows for how long. The error
 * kind is that of the last failed attempt reported since the stall began, if any (a custom sink may report
 * none).
 */
export class SinkStall {
  /** Batches with the sink: token → when it was handed over, oldest first. */
  readonly #outstanding = new Map<number, number>()
  #nextToken = 0
  /** When the oldest batch of an ended session was first handed over, until the sink acknowledges one. */
  #carried: number | undefined
  #lastError: { kind: string; at: number } | undefined
  #acknowledgements = 0

  /** Batches the sink has acknowledged since the relay started. */
  get acknowledgements(): number {
    return this.#acknowledgements
  }

  /** A batch goes to the sink; pass the returned token to {@link acknowledged} or {@link abandoned}. */
  handed(now = Date.now()): number {
    const token = this.#nextToken++
    this.#outstanding.set(token, now)
    return token
  }

  /** The sink acknowledged the batch: it is not stuck, and the next oldest batch sets the clock. */
  acknowledged(token: number): void {
    this.#outstanding.delete(token)
    this.#carried = undefined
    this.#acknowledgements += 1
  }

  /** The batch will never be acknowledged (its session ended); its facts are read and handed over again. */
  abandoned(token: number): void {
    const handedAt = this.#outstanding.get(token)
    if (handedAt === undefined) return
    this.#outstanding.delete(token)
    this.#carried = Math.min(this.#carried ?? handedAt, handedAt)
  }

  /** A failed attempt the sink reported (it retries it), of this kind. */
  error(kind: string, now = Date.now()): void {
    this.#lastError = { kind, at: now }
  }

  /** The relay waits on the slot instead of reading it: what it abandoned is no longer its to deliver. */
  reset(): void {
    this.#carried = undefined
  }

  /** When the stall began (ms since epoch), or undefined while no batch is with the sink. */
  since(): number | undefined {
    const oldest = this.#outstanding.values().next().value
    if (oldest === undefined) return undefined
    return Math.min(this.#carried ?? oldest, oldest)
  }

  /** Seconds since the stall began; 0 while no batch is with the sink. */
  seconds(now = Date.now()): number {
    const since = this.since()
    return since === undefined ? 0 : Math.max(0, (now - since) / 1000)
  }

  /** The kind of the last failed attempt since the stall began, or undefined when none was reported. */
  errorKind(): string | undefined {
    const since = this.since()
    const last = this.#lastError
    return since !== undefined && last !== undefined && last.at >= since ? last.kind : undefined
  }
}
