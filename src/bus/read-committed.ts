/**
 * What both readers (reader.ts over the client library, scan.ts over tickflow's own codec) share:
 * Kafka's read_committed batch filter and the fetch errors worth a retry.
 */
import { Attributes } from '../protocol/record-batch.ts'

/** Fetch errors after which a metadata refresh and a retry may succeed. */
export const RETRIABLE_FETCH_ERRORS: ReadonlySet<number> = new Set([3, 5, 6, 56, 74, 75, 78, 100])

/**
 * Kafka's consumer rule for one fetched partition: a producer's records are aborted from the first
 * offset the response lists for it until that producer's next control batch (the abort marker).
 * Feed it the batches in offset order; offsets are numbers (exact below 2^53).
 */
export class AbortedTransactions {
  private readonly pending: { producerId: number; firstOffset: number }[]
  private readonly active = new Set<number>()
  private next = 0

  constructor(aborted: readonly { producerId: bigint | number; firstOffset: bigint | number }[] | null) {
    this.pending = (aborted ?? [])
      .map((a) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }))
      .sort((a, b) => a.firstOffset - b.firstOffset)
  }

  /** True when the batch ending at `lastOffset` is to be skipped: a control batch or an aborted one. */
  skip(lastOffset: number, attributes: number, producerId: number): boolean {
    while (this.next < this.pending.length && this.pending[this.next].firstOffset <= lastOffset) {
      this.active.add(this.pending[this.next++].producerId)
    }
    if ((attributes & Attributes.control) !== 0) {
      this.active.delete(producerId)
      return true
    }
    return (attributes & Attributes.transactional) !== 0 && this.active.has(producerId)
  }
}
