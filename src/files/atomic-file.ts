/**
 * Small state files replaced atomically: write a temporary file, fsync it, rename it over the old
 * one, fsync the directory. A crash leaves either the old or the new contents, never a mix.
 */
import fs from 'node:fs'
import path from 'node:path'

export function writeFileAtomic(file: string, data: string | Buffer, options: { fsync?: boolean } = {}): void {
  const fsync = options.fsync ?? true
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  try {
    fs.writeFileSync(fd, data)
    if (fsync) fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  if (fsync) fsyncDirSync(path.dirname(file))
}

/** fsyncs a directory so that created, renamed and removed entries are durable; best effort. */
export function fsyncDirSync(dir: string): void {
  let fd = -1
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    // Some platforms cannot open or fsync a directory; the entries then rely on the OS.
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }
}
