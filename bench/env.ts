/** Shared by the benchmarks: counts from the environment. */

/** A positive integer from the environment variable `name` (`1_000_000` and `1,000,000` allowed). */
export function envCount(name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const n = Number(text.replaceAll('_', '').replaceAll(',', ''))
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${text}`)
  return n
}
