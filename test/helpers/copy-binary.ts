/**
 * A reader of PostgreSQL's binary COPY format for tests, written from the format's definition
 * (header, per row an int16 field count and int32-length-prefixed fields, trailer -1), apart
 * from the encoder it checks.
 */
import assert from 'node:assert/strict'

/** The rows of COPY binary data, each field as its bytes or null. */
export function readCopyBinary(data: Buffer): (Buffer | null)[][] {
  assert.equal(data.subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\0', 'signature')
  assert.equal(data.readInt32BE(11), 0, 'flags')
  let at = 15 + 4 + data.readInt32BE(15)
  const rows: (Buffer | null)[][] = []
  for (;;) {
    const count = data.readInt16BE(at)
    at += 2
    if (count === -1) break
    const row: (Buffer | null)[] = []
    for (let i = 0; i < count; i++) {
      const n = data.readInt32BE(at)
      at += 4
      if (n === -1) row.push(null)
      else {
        row.push(data.subarray(at, at + n))
        at += n
      }
    }
    rows.push(row)
  }
  assert.equal(at, data.length, 'nothing after the trailer')
  return rows
}

/** How a field of each type reads back, for comparisons. */
export type FieldType = 'text' | 'int4' | 'int8' | 'float8' | 'bool' | 'timestamptz' | 'jsonb' | 'bytea'

const PG_EPOCH_US = 946_684_800_000_000n

/** A field's bytes as a value: timestamptz as epoch ms (a number), jsonb as its text, bytea as hex. */
export function fieldValue(type: FieldType, b: Buffer | null): string | number | boolean | null {
  if (b === null) return null
  switch (type) {
    case 'text':
      return b.toString('utf8')
    case 'int4':
      assert.equal(b.length, 4)
      return b.readInt32BE(0)
    case 'int8':
      assert.equal(b.length, 8)
      return Number(b.readBigInt64BE(0))
    case 'float8':
      assert.equal(b.length, 8)
      return b.readDoubleBE(0)
    case 'bool':
      assert.equal(b.length, 1)
      return b[0] === 1
    case 'timestamptz':
      assert.equal(b.length, 8)
      return Number(b.readBigInt64BE(0) + PG_EPOCH_US) / 1000
    case 'jsonb':
      assert.equal(b[0], 1, 'jsonb version 1')
      return b.subarray(1).toString('utf8')
    case 'bytea':
      return b.toString('hex')
  }
}
