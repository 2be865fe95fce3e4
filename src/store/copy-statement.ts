/**
 * `COPY … FROM STDIN` statements, as clients of the embedded database's port send them (`pg`
 * with pg-copy-streams, psql's `\copy`). PGlite cannot read STDIN: fed such a statement over the
 * wire protocol it waits for input that never comes, and the one session stops for everyone. It
 * reads a blob instead (`COPY … FROM '/dev/blob'`), so the wire server collects the client's
 * CopyData and runs the statement rewritten to read it.
 */

/** A `COPY target FROM STDIN …` statement, rewritten for PGlite. */
export interface CopyFromStdin {
  /** The same statement reading `/dev/blob` instead of STDIN. */
  blobSql: string
  /** A statement whose result has the copied columns: `SELECT cols FROM table LIMIT 0`. */
  columnsSql: string
  /** Binary format (CopyInResponse's format code 1), else text or csv (0). */
  binary: boolean
}

/**
 * What `sql` is to the wire server: a single `COPY … FROM STDIN` statement it can run, `refused`
 * when it reads STDIN some other way (several statements, a prepared statement) that PGlite would
 * hang on, or undefined for anything else (passed to PGlite as it is).
 */
export function parseCopyFromStdin(sql: string): CopyFromStdin | 'refused' | undefined {
  if (!/\bSTDIN\b/i.test(sql)) return undefined
  const text = stripLeadingComments(sql).trim().replace(/;\s*$/, '')
  const m = /^COPY\s+([\s\S]+?)\s+FROM\s+STDIN\b([\s\S]*)$/i.exec(text)
  if (m === null) return /\bFROM\s+STDIN\b/i.test(sql) ? 'refused' : undefined
  const options = m[2]
  let target = m[1]
  // What follows STDIN is options (WITH (…), BINARY, CSV …) and perhaps WHERE; never a statement.
  if (options.includes(';')) return 'refused'
  let binary = /\bFORMAT\s+['"]?binary\b|^\s*(WITH\s+)?BINARY\b/i.test(options)
  // The old form `COPY BINARY table …`.
  const legacy = /^BINARY\s+/i.exec(target)
  if (legacy !== null) {
    binary = true
    target = target.slice(legacy[0].length)
  }
  const list = /^([\s\S]*?)\s*\(([\s\S]*)\)$/.exec(target)
  const columnsSql = list === null ? `SELECT * FROM ${target} LIMIT 0` : `SELECT ${list[2]} FROM ${list[1]} LIMIT 0`
  return { blobSql: `COPY ${m[1]} FROM '/dev/blob'${options}`, columnsSql, binary }
}

function stripLeadingComments(sql: string): string {
  let s = sql
  for (;;) {
    s = s.trimStart()
    if (s.startsWith('--')) {
      const end = s.indexOf('\n')
      s = end < 0 ? '' : s.slice(end + 1)
    } else if (s.startsWith('/*')) {
      const end = s.indexOf('*/')
      s = end < 0 ? '' : s.slice(end + 2)
    } else return s
  }
}
