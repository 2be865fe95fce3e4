/**
 * COPY … FROM STDIN statements rewritten for PGlite: which ones, and into what. The wire server
 * running them is tested in pglite-server.test.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCopyFromStdin } from '../../src/store/copy-statement.ts'

test('a COPY FROM STDIN: read from the blob instead, its columns probed, its format told', () => {
  assert.deepEqual(parseCopyFromStdin('COPY t FROM STDIN'), {
    blobSql: "COPY t FROM '/dev/blob'",
    columnsSql: 'SELECT * FROM t LIMIT 0',
    binary: false,
  })
  assert.deepEqual(
    parseCopyFromStdin('  -- load\n/* x */ copy "s"."T" (a, "b c") from stdin with (format binary);  '),
    {
      blobSql: `COPY "s"."T" (a, "b c") FROM '/dev/blob' with (format binary)`,
      columnsSql: 'SELECT a, "b c" FROM "s"."T" LIMIT 0',
      binary: true,
    },
  )
  assert.equal((parseCopyFromStdin('COPY t FROM STDIN (FORMAT csv, HEADER true)') as { binary: boolean }).binary, false)
  assert.equal((parseCopyFromStdin("COPY t FROM STDIN (FORMAT 'binary')") as { binary: boolean }).binary, true)
  assert.equal((parseCopyFromStdin('COPY t FROM STDIN BINARY') as { binary: boolean }).binary, true)
  assert.deepEqual(parseCopyFromStdin('COPY BINARY t FROM STDIN'), {
    blobSql: "COPY BINARY t FROM '/dev/blob'",
    columnsSql: 'SELECT * FROM t LIMIT 0',
    binary: true,
  })
})

test('other statements pass; forms PGlite would wait on are refused', () => {
  assert.equal(parseCopyFromStdin('SELECT 1'), undefined)
  assert.equal(parseCopyFromStdin('COPY t TO STDOUT'), undefined)
  assert.equal(parseCopyFromStdin("SELECT 'stdin' AS s"), undefined)
  assert.equal(parseCopyFromStdin('SELECT 1; COPY t FROM STDIN'), 'refused')
  assert.equal(parseCopyFromStdin('COPY t FROM STDIN; SELECT 1'), 'refused')
})
