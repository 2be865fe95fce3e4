/** The JSON serde shared by typed topics: parse, check against the zod schema, explain failures. */
import type { z } from 'zod'
import type { Decoded } from './types.ts'

/** Decodes JSON bytes against `schema`; the reason names the first failing field. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Buffer | null | undefined): Decoded<T> {
  if (bytes === null || bytes === undefined) return { ok: false, reason: 'the record has no value' }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` }
  }
  const result = schema.safeParse(parsed)
  if (result.success) return { ok: true, value: result.data }
  return { ok: false, reason: describeIssues(result.error) }
}

/** `price: expected number, received string` — the first issue, with its path. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'does not match the schema'
  const where = issue.path.length > 0 ? issue.path.join('.') + ': ' : ''
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : ''
  return where + issue.message + more
}

// A character JSON must escape, or a surrogate (which may be unpaired).
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true
  }
  return false
}

/** A JSON string literal; skips JSON.stringify for the common case that needs no escaping. */
export function jsonString(s: string): string {
  return needsEscape(s) ? JSON.stringify(s) : '"' + s + '"'
}
