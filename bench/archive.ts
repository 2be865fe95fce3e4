/**
 * The archiver's write rate (`npm run bench:archive`).
 *
 * `tickflow broker` runs in a child process and `tickflow produce` loads N prices first. Then, for
 * each database, the time for `runArchiver` (this process) to consume every record and commit it —
 * a row in the raw archive and a row in `prices` per record, offsets in the same transactions —
 * beside the same rows loaded without tickflow:
 *   - PostgreSQL server: `psql`'s `\copy` of the rows the archiver wrote (exported to files first,
 *     not timed) into an identically migrated schema, in one transaction (`psql -1`), once in
 *     COPY's text format and once in its binary format (which the archiver writes);
 *   - PGlite: one `COPY … FROM` per table of the same files (text, then binary), in one
 *     transaction, on a freshly migrated database in this process (PGlite has no psql of its own).
 * The baselines read local files and do no Kafka fetches, so they bound what any archiver could do.
 *
 * Environment: BENCH_RECORDS (default 500,000), BENCH_ROUNDS (2), BENCH_DATABASE_URL (default
 * TICKFLOW_DATABASE_URL; without either the server section is skipped), BENCH_TARGETS
 * (postgres,pglite).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaCluster } from '../src/bus/cluster.ts'
import { runArchiver } from '../src/store/archiver.ts'
import { openDatabase, type Database } from '../src/store/database.ts'
import { migrate } from '../src/store/migrations.ts'
import { DEFAULT_ROUTES } from '../src/store/tables.ts'
import { envCount } from './env.ts'
import { benchProcesses } from './processes.ts'

const RECORDS = envCount('BENCH_RECORDS', 500_000)
const ROUNDS = envCount('BENCH_ROUNDS', 2)
const PARTITIONS = 3
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? process.env.TICKFLOW_DATABASE_URL
const TARGETS = new Set((process.env.BENCH_TARGETS ?? 'postgres,pglite').split(','))
const TABLES = ['archive', 'prices']

const processes = benchProcesses('tickflow-bench-archive-')
const tmpDir = processes.dir
const schemas: string[] = []

const startBroker = () => processes.startBroker('broker')

const produce = (address: string) => processes.produce(address, 'prices', RECORDS, ['--partitions', String(PARTITIONS)])

/** Archives every record of `prices` into `db`; returns the seconds to the last commit. */
async function timeArchiver(address: string, db: Database): Promise<{ seconds: number; batches: number }> {
  const bus = { bootstrapBrokers: [address], clientId: 'bench-archive' }
  const cluster = await KafkaCluster.connect(bus)
  const abort = new AbortController()
  let end = 0
  let batches = 0
  const start = performance.now()
  try {
    await runArchiver({
      cluster,
      bus,
      db,
      topics: ['prices'],
      routes: DEFAULT_ROUTES,
      signal: abort.signal,
      onCommit: (s) => {
        if (s.records >= RECORDS && end === 0) {
          end = performance.now()
          batches = s.batches
          abort.abort()
        }
      },
    })
  } finally {
    await cluster.close()
  }
  return { seconds: (end - start) / 1000, batches }
}

async function countRows(db: Database): Promise<number> {
  let n = 0
  for (const t of TABLES) {
    const r = await db.query<{ n: number }>(`SELECT count(*)::float8 AS n FROM ${db.schema}.${t}`)
    n += r.rows[0].n
  }
  return n
}

function psql(url: string, args: string[]): void {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args], { encoding: 'utf8' })
  if (r.error !== undefined) throw r.error
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr.trim()}`)
}

function hasPsql(): boolean {
  return spawnSync('psql', ['--version']).status === 0
}

/** `\copy` script lines for every table between `schema` and the files, in COPY's text or binary format. */
function copyScript(schema: string, direction: 'to' | 'from', dir: string, format: 'text' | 'binary'): string {
  return TABLES.map(
    (t) => `\\copy ${schema}.${t} ${direction} '${copyFile(dir, t, format)}' with (format ${format})\n`,
  ).join('')
}

function copyFile(dir: string, table: string, format: 'text' | 'binary'): string {
  return path.join(dir, format === 'text' ? `${table}.copy` : `${table}.bin`)
}

function newSchema(): string {
  const name = `bench_archive_${process.pid}_${schemas.length}`
  schemas.push(name)
  return name
}

interface Row {
  target: string
  method: string
  rows: number
  seconds: number
  note: string
}
const results: Row[] = []

function report(r: Row): void {
  results.push(r)
  console.log(
    `${r.target.padEnd(10)} ${r.method.padEnd(36)} ${String(r.rows).padStart(9)} rows ` +
      `${r.seconds.toFixed(2).padStart(7)} s ${Math.round(r.rows / r.seconds)
        .toLocaleString('en-US')
        .padStart(9)} rows/s  ${r.note}`,
  )
}

async function benchServer(address: string, url: string, round: number): Promise<void> {
  const filesDir = path.join(tmpDir, `server-${round}`)
  fs.mkdirSync(filesDir)
  const archived = await openDatabase({ url, schema: newSchema() })
  try {
    const { seconds, batches } = await timeArchiver(address, archived)
    const rows = await countRows(archived)
    if (rows !== 2 * RECORDS) throw new Error(`the archiver wrote ${rows} rows, expected ${2 * RECORDS}`)
    report({ target: 'postgres', method: 'tickflow archive (Kafka → COPY)', rows, seconds, note: `${batches} txns` })
    if (!hasPsql()) {
      console.log('postgres   psql \\copy: skipped, psql is not installed')
      return
    }
    const script = path.join(filesDir, 'export.sql')
    fs.writeFileSync(
      script,
      copyScript(archived.schema, 'to', filesDir, 'text') + copyScript(archived.schema, 'to', filesDir, 'binary'),
    )
    psql(url, ['-f', script])
  } finally {
    await archived.close()
  }
  for (const format of ['text', 'binary'] as const) {
    const copied = await openDatabase({ url, schema: newSchema() })
    try {
      await migrate(copied)
      const script = path.join(filesDir, `import-${format}.sql`)
      fs.writeFileSync(script, copyScript(copied.schema, 'from', filesDir, format))
      const start = performance.now()
      psql(url, ['-1', '-f', script])
      const seconds = (performance.now() - start) / 1000
      const rows = await countRows(copied)
      if (rows !== 2 * RECORDS) throw new Error(`\\copy loaded ${rows} rows, expected ${2 * RECORDS}`)
      const bytes = TABLES.reduce((n, t) => n + fs.statSync(copyFile(filesDir, t, format)).size, 0)
      report({
        target: 'postgres',
        method: `psql \\copy ${format} of the same rows`,
        rows,
        seconds,
        note: `${(bytes / 1e6).toFixed(0)} MB`,
      })
    } finally {
      await copied.close()
    }
  }
}

async function benchPglite(address: string, round: number, files: string | undefined): Promise<void> {
  const archived = await openDatabase({ dataDir: path.join(tmpDir, `pglite-archive-${round}`) })
  try {
    const { seconds, batches } = await timeArchiver(address, archived)
    const rows = await countRows(archived)
    if (rows !== 2 * RECORDS) throw new Error(`the archiver wrote ${rows} rows, expected ${2 * RECORDS}`)
    report({ target: 'pglite', method: 'tickflow archive (Kafka → COPY)', rows, seconds, note: `${batches} txns` })
  } finally {
    await archived.close()
  }
  if (files === undefined) {
    console.log('pglite     COPY of the same rows: skipped, the rows are exported through the server section')
    return
  }
  for (const format of ['text', 'binary'] as const) {
    const copied = await openDatabase({ dataDir: path.join(tmpDir, `pglite-copy-${format}-${round}`) })
    try {
      await migrate(copied)
      const data = TABLES.map((t) => fs.readFileSync(copyFile(files, t, format)))
      const start = performance.now()
      await copied.transaction(async (tx) => {
        for (let i = 0; i < TABLES.length; i++) await tx.copyFrom(`${copied.schema}.${TABLES[i]}`, data[i], format)
      })
      const seconds = (performance.now() - start) / 1000
      const rows = await countRows(copied)
      if (rows !== 2 * RECORDS) throw new Error(`COPY loaded ${rows} rows, expected ${2 * RECORDS}`)
      report({ target: 'pglite', method: `COPY ${format} of the same rows`, rows, seconds, note: 'in memory, one txn' })
    } finally {
      await copied.close()
    }
  }
}

async function dropSchemas(url: string): Promise<void> {
  const db = await openDatabase({ url, schema: 'public' })
  try {
    for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  } finally {
    await db.close()
  }
}

console.log(`tickflow bench:archive — ${RECORDS.toLocaleString('en-US')} prices records, ${PARTITIONS} partitions,`)
console.log(`${ROUNDS} round(s); Node ${process.version}, ${os.cpus().length} CPU, ${os.cpus()[0]?.model ?? ''}`)
const address = await startBroker()
await produce(address)
try {
  for (let round = 0; round < ROUNDS; round++) {
    let files: string | undefined
    if (TARGETS.has('postgres')) {
      if (SERVER_URL === undefined) {
        if (round === 0) console.log('postgres: skipped, set BENCH_DATABASE_URL (or TICKFLOW_DATABASE_URL)')
      } else {
        await benchServer(address, SERVER_URL, round)
        if (hasPsql()) files = path.join(tmpDir, `server-${round}`)
      }
    }
    if (TARGETS.has('pglite')) await benchPglite(address, round, files)
  }
} finally {
  if (SERVER_URL !== undefined) await dropSchemas(SERVER_URL)
}

console.log('\nbest of the rounds:')
for (const target of ['postgres', 'pglite']) {
  const best = (method: string): Row | undefined =>
    results.filter((r) => r.target === target && r.method.startsWith(method)).sort((a, b) => a.seconds - b.seconds)[0]
  const archiver = best('tickflow')
  if (archiver === undefined) continue
  const perSecond = (r: Row) => Math.round(r.rows / r.seconds).toLocaleString('en-US')
  console.log(`  ${target}: ${perSecond(archiver)} rows/s archived`)
  const baselines = target === 'postgres' ? ['psql \\copy text', 'psql \\copy binary'] : ['COPY text', 'COPY binary']
  for (const method of baselines) {
    const baseline = best(method)
    if (baseline === undefined) continue
    console.log(
      `    ${perSecond(baseline)} rows/s by ${baseline.method.split(' of')[0]}: ` +
        `the archiver takes ${(archiver.seconds / baseline.seconds).toFixed(2)}× its time`,
    )
  }
}

process.exit(0)
