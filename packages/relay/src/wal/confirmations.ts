import type { Lsn } from './lsn.js'

/**
 * Which WAL position the relay may confirm to PostgreSQL. Confirming position P tells PostgreSQL that
 * every transaction whose commit record starts before P is done: after a restart it is never sent again.
 * So the confirmed position may only ever be
 *
 * - a commit's `commitEndLsn`, once that transaction's facts and every fact of every earlier transaction
 *   are acknowledged by the sink — not one byte more, because the next transaction's commit record often
 *   starts exactly at `commitEndLsn`;
 * - a keepalive's WAL position, when it arrived after every message already processed, no transaction is
 *   open and nothing is unacknowledged — so an idle slot does not hold WAL;
 * - the position of a non-transactional message once it is dead-lettered (it is sent again if we crash
 *   before a later position is confirmed: a duplicate, never a loss).
 *
 * Acknowledgements may arrive in any order; the confirmed position never passes an unacknowledged fact and
 * never moves backwards. Positions are 64-bit numbers, never compared as strings.
 */
export class Confirmations {
  #confirmed: Lsn
  /**
   * Transactions not yet confirmable, in commit order, from `#head` on; the last one may still be open.
   * Confirmed ones are skipped by moving `#head`, not by `shift()`, which would cost time in proportion to
   * the queue (tens of thousands of transactions when the relay reads far ahead).
   */
  readonly #queue: Transaction[] = []
  #head = 0
  #open: Transaction | undefined

  /** @param confirmed the slot's `confirmed_flush_lsn` when streaming started. */
  constructor(confirmed: Lsn) {
    this.#confirmed = confirmed
  }

  /** The highest position that is safe to confirm. */
  get position(): Lsn {
    return this.#confirmed
  }

  /** Whether a transaction is between BEGIN and COMMIT. */
  get inTransaction(): boolean {
    return this.#open !== undefined
  }

  /** Facts handed to the sink and not yet acknowledged, over all transactions. */
  get unacknowledged(): number {
    let count = 0
    for (let index = this.#head; index < this.#queue.length; index++)
      count += this.#queue[index]?.pending ?? 0
    return count
  }

  /** Commit time (ms since epoch) of the oldest transaction not yet confirmed, if any. */
  get oldestUnconfirmedCommitTime(): number | undefined {
    return this.#queue[this.#head]?.commitTime
  }

  /** BEGIN: a transaction committed at `commitTime` (ms since epoch) starts arriving. */
  begin(commitTime: number): void {
    if (this.#open) throw new Error('BEGIN inside an open transaction: the stream is out of sync')
    this.#open = { commitTime, pending: 0, endLsn: undefined }
    this.#queue.push(this.#open)
  }

  /** A fact of the open transaction goes to the sink; call {@link acknowledge} with the result once acked. */
  fact(): Transaction {
    if (!this.#open)
      throw new Error('a transactional message outside BEGIN/COMMIT: the stream is out of sync')
    this.#open.pending += 1
    return this.#open
  }

  /** A non-transactional message at `lsn` goes to the sink (it belongs to no transaction). */
  standalone(lsn: Lsn, time: number): Transaction {
    const entry: Transaction = { commitTime: time, pending: 1, endLsn: lsn }
    // Inside an open transaction it still must not be confirmed before the facts that arrived earlier.
    if (this.#open) this.#queue.splice(this.#queue.length - 1, 0, entry)
    else this.#queue.push(entry)
    return entry
  }

  /**
   * A non-transactional message at `lsn` that is not the relay's (another tool's heartbeat): nothing to
   * deliver, but once everything before it is acknowledged its position may be confirmed, so that a slot
   * that sees only such messages keeps advancing.
   */
  skipped(lsn: Lsn): void {
    const entry = this.standalone(lsn, Date.now())
    this.acknowledge(entry)
  }

  /** COMMIT: the open transaction ends at `commitEndLsn`. */
  commit(commitEndLsn: Lsn): void {
    if (!this.#open) throw new Error('COMMIT without BEGIN: the stream is out of sync')
    this.#open.endLsn = commitEndLsn
    this.#open = undefined
    this.#advance()
  }

  /** The sink acknowledged one fact of `transaction`. */
  acknowledge(transaction: Transaction): void {
    if (transaction.pending <= 0) throw new Error('a fact was acknowledged twice')
    transaction.pending -= 1
    this.#advance()
  }

  /** A keepalive reported the server's WAL position `walEnd`. */
  keepalive(walEnd: Lsn): void {
    if (this.#open === undefined && this.#head === this.#queue.length && walEnd > this.#confirmed)
      this.#confirmed = walEnd
  }

  #advance(): void {
    for (;;) {
      const head = this.#queue[this.#head]
      if (!head || head.pending > 0 || head.endLsn === undefined) break
      if (head.endLsn > this.#confirmed) this.#confirmed = head.endLsn
      this.#head += 1
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
  }
}

/** One transaction (or one non-transactional message) as far as confirmation is concerned. */
export interface Transaction {
  /** Commit time in ms since epoch, for slot lag in seconds. */
  readonly commitTime: number
  /** Facts handed to the sink and not yet acknowledged. */
  pending: number
  /** Where the transaction's commit record ends; unknown until COMMIT. */
  endLsn: Lsn | undefined
}
