/**
 * A map whose keys are byte strings, looked up by a slice of a buffer — the key of a record as it
 * sits in the fetched bytes — so that the per-record lookup of a processor's keyed state makes no
 * string and no copy. Open addressing with linear probing over a power-of-two table, FNV-1a
 * hashes kept beside the keys so most mismatches cost one comparison; iteration follows insertion
 * order (so snapshots are deterministic).
 */

const EMPTY = -1

export class BytesMap<V> {
  // Slot → index into keys/values/hashes, or EMPTY.
  private slots: Int32Array
  private mask: number
  private readonly keyList: Buffer[] = []
  private readonly valueList: V[] = []
  private readonly hashList: number[] = []

  constructor(initialCapacity = 64) {
    let cap = 16
    while (cap < initialCapacity * 2) cap *= 2
    this.slots = new Int32Array(cap).fill(EMPTY)
    this.mask = cap - 1
  }

  /** Entries stored. */
  get size(): number {
    return this.keyList.length
  }

  /** The value stored under the bytes `buf[start..end)`, or undefined. */
  get(buf: Uint8Array, start: number, end: number): V | undefined {
    const hash = hashBytes(buf, start, end)
    const len = end - start
    const slots = this.slots
    const mask = this.mask
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const i = slots[s]
      if (i === EMPTY) return undefined
      if (this.hashList[i] !== hash) continue
      const key = this.keyList[i]
      if (key.length !== len) continue
      let j = 0
      while (j < len && key[j] === buf[start + j]) j++
      if (j === len) return this.valueList[i]
    }
  }

  /** Stores `value` under `key` (a key of its own: the map keeps the buffer), replacing any value there. */
  set(key: Buffer, value: V): void {
    const hash = hashBytes(key, 0, key.length)
    const slots = this.slots
    const mask = this.mask
    let s = hash & mask
    for (; ; s = (s + 1) & mask) {
      const i = slots[s]
      if (i === EMPTY) break
      if (this.hashList[i] === hash && this.keyList[i].equals(key)) {
        this.valueList[i] = value
        return
      }
    }
    slots[s] = this.keyList.length
    this.keyList.push(key)
    this.valueList.push(value)
    this.hashList.push(hash)
    // At most half full, so probe runs stay short.
    if (this.keyList.length * 2 > slots.length) this.rehash(slots.length * 2)
  }

  /** The keys, in insertion order. */
  keys(): readonly Buffer[] {
    return this.keyList
  }

  /** The values, in insertion order. */
  values(): readonly V[] {
    return this.valueList
  }

  private rehash(capacity: number): void {
    const slots = new Int32Array(capacity).fill(EMPTY)
    const mask = capacity - 1
    for (let i = 0; i < this.hashList.length; i++) {
      let s = this.hashList[i] & mask
      while (slots[s] !== EMPTY) s = (s + 1) & mask
      slots[s] = i
    }
    this.slots = slots
    this.mask = mask
  }
}

/** FNV-1a (32 bit) of `buf[start..end)`, as a non-negative integer. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193)
  return h >>> 0
}
