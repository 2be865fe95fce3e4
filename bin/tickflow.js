#!/usr/bin/env node
// The `tickflow` command. Checks the Node.js version first: the sources are TypeScript run by
// Node's type stripping, which older versions lack (the error would otherwise be cryptic).
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`tickflow: Node.js >= 22.22 is required, this is ${process.version}\n`)
  process.exit(1)
}
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
