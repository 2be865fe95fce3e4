/**
 * Versioned migrations, applied in order when a store opens: each runs in its own transaction and
 * is recorded in `<schema>.schema_migrations`, so a database is never half-migrated and a newer
 * tickflow only adds what is missing. A database migrated by a newer tickflow than this one is
 * refused (its tables may mean something this version does not know).
 *
 * Every archived table carries its record's position (topic, partition, offset) as primary key:
 * the archiver's exactly-once commits make each position appear once, and the key makes any
 * second write of it an error rather than a duplicate.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { Database } from './database.ts'

export interface Migration {
  version: number
  name: string
  /** Statements; `{schema}` is replaced by the store's quoted schema. */
  sql: string
}

// Provenance columns first in every archived table.
const POSITION = `topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL`
const POSITION_KEY = `PRIMARY KEY (topic, partition, "offset")`

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'archive, offsets and typed tables',
    sql: `
      CREATE TABLE {schema}.consumer_offsets (
        consumer text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, topic, partition)
      );
      CREATE TABLE {schema}.archive (
        ${POSITION},
        ts timestamptz,
        key bytea,
        headers jsonb,
        value_json jsonb,
        value_bytes bytea,
        ${POSITION_KEY}
      );
      CREATE TABLE {schema}.prices (
        ${POSITION},
        ts timestamptz NOT NULL,
        symbol text NOT NULL,
        price double precision NOT NULL,
        volume double precision,
        ${POSITION_KEY}
      );
      CREATE INDEX prices_symbol_ts ON {schema}.prices (symbol, ts);
      CREATE TABLE {schema}.volatility (
        ${POSITION},
        ts timestamptz NOT NULL,
        symbol text NOT NULL,
        price double precision NOT NULL,
        ema double precision,
        sma double precision,
        volatility double precision,
        price_std double precision,
        zscore double precision,
        outlier boolean NOT NULL,
        "window" integer NOT NULL,
        count bigint NOT NULL,
        ${POSITION_KEY}
      );
      CREATE INDEX volatility_symbol_ts ON {schema}.volatility (symbol, ts);
      CREATE TABLE {schema}.bars (
        ${POSITION},
        symbol text NOT NULL,
        "interval" text NOT NULL,
        start_ts timestamptz NOT NULL,
        end_ts timestamptz NOT NULL,
        open double precision NOT NULL,
        high double precision NOT NULL,
        low double precision NOT NULL,
        close double precision NOT NULL,
        volume double precision NOT NULL,
        vwap double precision,
        trades bigint NOT NULL,
        ${POSITION_KEY}
      );
      CREATE INDEX bars_symbol_interval_start ON {schema}.bars (symbol, "interval", start_ts);
      CREATE TABLE {schema}.orders (
        ${POSITION},
        id bigint NOT NULL,
        instrument text NOT NULL,
        side text NOT NULL,
        quantity bigint NOT NULL,
        price double precision,
        order_ts timestamptz NOT NULL,
        trader text,
        type text,
        tif text,
        action text,
        ${POSITION_KEY}
      );
      CREATE INDEX orders_instrument ON {schema}.orders (instrument, order_ts);
      CREATE INDEX orders_trader ON {schema}.orders (trader, order_ts);
      CREATE TABLE {schema}.trades (
        ${POSITION},
        seq bigint NOT NULL,
        ts timestamptz NOT NULL,
        instrument text NOT NULL,
        price double precision NOT NULL,
        quantity bigint NOT NULL,
        buy_order_id bigint NOT NULL,
        sell_order_id bigint NOT NULL,
        buyer text,
        seller text,
        aggressor text NOT NULL,
        ${POSITION_KEY}
      );
      CREATE INDEX trades_instrument_ts ON {schema}.trades (instrument, ts);
      CREATE INDEX trades_buyer ON {schema}.trades (buyer, ts);
      CREATE INDEX trades_seller ON {schema}.trades (seller, ts);
      CREATE TABLE {schema}.pnl (
        ${POSITION},
        ts timestamptz NOT NULL,
        trader text NOT NULL,
        instrument text NOT NULL,
        position double precision NOT NULL,
        avg_price double precision,
        realized double precision NOT NULL,
        unrealized double precision NOT NULL,
        fees double precision NOT NULL,
        last_price double precision,
        ${POSITION_KEY}
      );
      CREATE INDEX pnl_trader_instrument_ts ON {schema}.pnl (trader, instrument, ts);
    `,
  },
]

/**
 * Applies the migrations `db` lacks; returns the versions applied. Concurrent starters on a
 * PostgreSQL server serialise on an advisory lock, so each migration runs once.
 * @throws TICKFLOW_ERR_DATABASE when the database has a version newer than this tickflow knows
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const s = db.schema
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  )
  const applied: number[] = []
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      // One lock per schema, held to the end of this transaction.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tickflow-migrations:${s}`])
      const rows = (await tx.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)).rows
      const have = new Set(rows.map((r) => Number(r.version)))
      const newest = Math.max(0, ...have)
      const known = migrations[migrations.length - 1]?.version ?? 0
      if (newest > known) {
        throw new TickflowError(
          ErrorCodes.DATABASE,
          `${db.description} schema ${s} is at version ${newest}, newer than this tickflow knows (${known}): upgrade tickflow`,
        )
      }
      if (have.has(m.version)) return false
      for (const statement of splitStatements(m.sql.replaceAll('{schema}', s))) await tx.query(statement)
      await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
      return true
    })
    if (done) applied.push(m.version)
  }
  return applied
}

// Our migrations contain no semicolons inside literals, so splitting on them is exact.
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)
}
