/**
 * Generates tickflow's Kafka message codecs from Apache Kafka's JSON message definitions.
 *
 *   node scripts/generate-protocol.ts [--check] [--source DIR]
 *
 * 1. extract: reads `<source>/<Message>.json` (JSON with `//` comments; default source
 *    `../shared/kafka-messages` next to the repository, or env TICKFLOW_KAFKA_MESSAGES_DIR, or
 *    `--source`), keeps only the structural data and writes `src/protocol/schema/<Message>.json`.
 *    Skipped with a note when the source directory does not exist.
 * 2. emit: turns `src/protocol/schema/<Message>.json` into `src/protocol/messages/<message>.ts`
 *    plus `index.ts`.
 *
 * `--check` writes nothing: it regenerates in memory and exits 1, printing one line per file that
 * would change. Every stage is also exported so tests can run it in memory.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The messages to generate. Adding a message is one line here (then `npm run generate`). */
export const MESSAGES: readonly string[] = [
  'RequestHeader',
  'ResponseHeader',
  'ProduceRequest',
  'ProduceResponse',
  'FetchRequest',
  'FetchResponse',
  'ListOffsetsRequest',
  'ListOffsetsResponse',
  'MetadataRequest',
  'MetadataResponse',
  'OffsetCommitRequest',
  'OffsetCommitResponse',
  'OffsetFetchRequest',
  'OffsetFetchResponse',
  'FindCoordinatorRequest',
  'FindCoordinatorResponse',
  'JoinGroupRequest',
  'JoinGroupResponse',
  'HeartbeatRequest',
  'HeartbeatResponse',
  'LeaveGroupRequest',
  'LeaveGroupResponse',
  'SyncGroupRequest',
  'SyncGroupResponse',
  'DescribeGroupsRequest',
  'DescribeGroupsResponse',
  'ListGroupsRequest',
  'ListGroupsResponse',
  'SaslHandshakeRequest',
  'SaslHandshakeResponse',
  'ApiVersionsRequest',
  'ApiVersionsResponse',
  'CreateTopicsRequest',
  'CreateTopicsResponse',
  'DeleteTopicsRequest',
  'DeleteTopicsResponse',
  'DeleteRecordsRequest',
  'DeleteRecordsResponse',
  'InitProducerIdRequest',
  'InitProducerIdResponse',
  'OffsetForLeaderEpochRequest',
  'OffsetForLeaderEpochResponse',
  'AddPartitionsToTxnRequest',
  'AddPartitionsToTxnResponse',
  'AddOffsetsToTxnRequest',
  'AddOffsetsToTxnResponse',
  'EndTxnRequest',
  'EndTxnResponse',
  'TxnOffsetCommitRequest',
  'TxnOffsetCommitResponse',
  'DescribeConfigsRequest',
  'DescribeConfigsResponse',
  'AlterConfigsRequest',
  'AlterConfigsResponse',
  'IncrementalAlterConfigsRequest',
  'IncrementalAlterConfigsResponse',
  'CreatePartitionsRequest',
  'CreatePartitionsResponse',
  'DeleteGroupsRequest',
  'DeleteGroupsResponse',
  'DescribeClusterRequest',
  'DescribeClusterResponse',
  'OffsetDeleteRequest',
  'OffsetDeleteResponse',
  'DescribeProducersRequest',
  'DescribeProducersResponse',
  'DescribeLogDirsRequest',
  'DescribeLogDirsResponse',
  'ListTransactionsRequest',
  'ListTransactionsResponse',
  'DescribeTransactionsRequest',
  'DescribeTransactionsResponse',
  'ConsumerProtocolSubscription',
  'ConsumerProtocolAssignment',
]

/** Repository-relative output folders. */
export const SCHEMA_DIR = 'src/protocol/schema'
export const MESSAGES_DIR = 'src/protocol/messages'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// ---------------------------------------------------------------------------------------------
// Stage 1: extract
// ---------------------------------------------------------------------------------------------

/** A field as kept in `src/protocol/schema`: structure only, no prose. */
export interface FieldSchema {
  name: string
  type: string
  versions: string
  nullableVersions?: string
  flexibleVersions?: string
  taggedVersions?: string
  tag?: number
  default?: string | number | boolean
  fields?: FieldSchema[]
}

export interface StructSchema {
  name: string
  versions: string
  fields: FieldSchema[]
}

export interface MessageSchema {
  name: string
  type: string
  apiKey?: number
  validVersions: string
  deprecatedVersions?: string
  flexibleVersions: string
  fields: FieldSchema[]
  commonStructs?: StructSchema[]
}

/**
 * Removes `//` line comments (and `/* *\/` blocks) from Kafka's commented JSON. A small scanner
 * rather than a regex: `//` inside a string (a URL in an "about" text) is data, not a comment.
 */
export function stripJsonComments(text: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      const start = i++
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
      out += text.slice(start, ++i)
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 2
    } else {
      out += c
      i++
    }
  }
  return out
}

type Json = { [key: string]: unknown }

function requireString(obj: Json, key: string, where: string): string {
  const v = obj[key]
  if (typeof v !== 'string') throw new Error(`${where}: "${key}" must be a string`)
  return v
}

function optionalString(obj: Json, key: string, where: string): string | undefined {
  return obj[key] === undefined ? undefined : requireString(obj, key, where)
}

function normalizeField(raw: Json, where: string): FieldSchema {
  const name = requireString(raw, 'name', where)
  const at = `${where}.${name}`
  // Key order here is the key order of the written schema files.
  const field: FieldSchema = {
    name,
    type: requireString(raw, 'type', at),
    versions: requireString(raw, 'versions', at),
  }
  const nullableVersions = optionalString(raw, 'nullableVersions', at)
  if (nullableVersions !== undefined) field.nullableVersions = nullableVersions
  const flexibleVersions = optionalString(raw, 'flexibleVersions', at)
  if (flexibleVersions !== undefined) field.flexibleVersions = flexibleVersions
  const taggedVersions = optionalString(raw, 'taggedVersions', at)
  if (taggedVersions !== undefined) field.taggedVersions = taggedVersions
  if (raw.tag !== undefined) {
    if (typeof raw.tag !== 'number') throw new Error(`${at}: "tag" must be a number`)
    field.tag = raw.tag
  }
  if (raw.default !== undefined) {
    const d = raw.default
    if (typeof d !== 'string' && typeof d !== 'number' && typeof d !== 'boolean') {
      throw new Error(`${at}: unsupported default ${JSON.stringify(d)}`)
    }
    field.default = d
  }
  if (raw.fields !== undefined) field.fields = normalizeFields(raw.fields, at)
  return field
}

function normalizeFields(raw: unknown, where: string): FieldSchema[] {
  if (!Array.isArray(raw)) throw new Error(`${where}: "fields" must be an array`)
  return raw.map((f: Json) => normalizeField(f, where))
}

/**
 * Keeps the structural part of one message definition (names, types, version ranges, tags,
 * defaults) in a fixed key order; drops prose ("about"), listeners, entity types, map keys and
 * every other annotation.
 */
export function normalizeMessage(raw: Json): MessageSchema {
  const name = requireString(raw, 'name', 'message')
  if (raw.apiKey !== undefined && typeof raw.apiKey !== 'number') throw new Error(`${name}: "apiKey" must be a number`)
  if (raw.commonStructs !== undefined && !Array.isArray(raw.commonStructs)) {
    throw new Error(`${name}: "commonStructs" must be an array`)
  }
  const deprecated = optionalString(raw, 'deprecatedVersions', name)
  // Key order here is the key order of the written schema files; absent keys stay absent.
  const message: MessageSchema = {
    name,
    type: requireString(raw, 'type', name),
    ...(raw.apiKey === undefined ? {} : { apiKey: raw.apiKey }),
    validVersions: requireString(raw, 'validVersions', name),
    ...(deprecated === undefined ? {} : { deprecatedVersions: deprecated }),
    flexibleVersions: requireString(raw, 'flexibleVersions', name),
    fields: normalizeFields(raw.fields, name),
  }
  if (Array.isArray(raw.commonStructs)) {
    message.commonStructs = raw.commonStructs.map((s: Json) => {
      const structName = requireString(s, 'name', `${name} commonStructs`)
      return {
        name: structName,
        versions: requireString(s, 'versions', `${name}.${structName}`),
        fields: normalizeFields(s.fields, `${name}.${structName}`),
      }
    })
  }
  return message
}

/** Parses one of Kafka's commented JSON definitions into its structural schema. */
export function parseDefinition(text: string): MessageSchema {
  return normalizeMessage(JSON.parse(stripJsonComments(text)) as Json)
}

export function schemaFileText(schema: MessageSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`
}

/** Stage 1 in memory: `src/protocol/schema/<Message>.json` path → content, for every message. */
export function extract(sourceDir: string, messages: readonly string[] = MESSAGES): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of messages) {
    const file = path.join(sourceDir, `${name}.json`)
    let schema: MessageSchema
    try {
      schema = parseDefinition(fs.readFileSync(file, 'utf8'))
    } catch (err) {
      throw new Error(`cannot extract ${name}.json: ${(err as Error).message}`, { cause: err })
    }
    if (schema.name !== name) throw new Error(`${name}.json defines ${schema.name}`)
    files.set(`${SCHEMA_DIR}/${name}.json`, schemaFileText(schema))
  }
  return files
}

// ---------------------------------------------------------------------------------------------
// Version ranges and the conditions generated from them
// ---------------------------------------------------------------------------------------------

/** An inclusive version range; empty when min > max. */
export interface Range {
  readonly min: number
  readonly max: number
}

const NO_VERSIONS: Range = { min: 0, max: -1 }

/** Parses "3+", "0-7", "2" or "none" (undefined = none). */
export function parseVersions(spec: string | undefined, where = 'versions'): Range {
  if (spec === undefined || spec === 'none') return NO_VERSIONS
  let m = /^(\d+)\+$/.exec(spec)
  if (m) return { min: Number(m[1]), max: Infinity }
  m = /^(\d+)-(\d+)$/.exec(spec)
  if (m) return { min: Number(m[1]), max: Number(m[2]) }
  m = /^(\d+)$/.exec(spec)
  if (m) return { min: Number(m[1]), max: Number(m[1]) }
  throw new Error(`${where}: bad version range "${spec}"`)
}

const isEmpty = (r: Range): boolean => r.min > r.max

function intersect(a: Range, b: Range): Range {
  const r = { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) }
  return isEmpty(r) ? NO_VERSIONS : r
}

function hull(a: Range, b: Range): Range {
  if (isEmpty(a)) return b
  if (isEmpty(b)) return a
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) }
}

function contains(outer: Range, inner: Range): boolean {
  return isEmpty(inner) || (outer.min <= inner.min && inner.max <= outer.max)
}

/** `a` minus `b`; the generator only supports results that are one range. */
function subtract(a: Range, b: Range, where: string): Range {
  const overlap = intersect(a, b)
  if (isEmpty(overlap)) return a
  if (overlap.min <= a.min && overlap.max >= a.max) return NO_VERSIONS
  if (overlap.min > a.min && overlap.max >= a.max) return { min: a.min, max: overlap.min - 1 }
  if (overlap.min <= a.min) return { min: overlap.max + 1, max: a.max }
  throw new Error(`${where}: version ranges that split a field in two are not supported`)
}

export function formatRange(r: Range): string {
  if (isEmpty(r)) return 'none'
  if (r.max === Infinity) return `${r.min}+`
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`
}

/** A generated boolean condition on `version`: a constant when the context decides it. */
type Cond = boolean | string

/** The condition "version is in `r`", knowing that version is in `ctx`. */
function gate(r: Range, ctx: Range): Cond {
  const lo = Math.max(r.min, ctx.min)
  const hi = Math.min(r.max, ctx.max)
  if (lo > hi) return false
  const parts: string[] = []
  if (lo > ctx.min) parts.push(`version >= ${lo}`)
  if (hi < ctx.max) parts.push(`version <= ${hi}`)
  return parts.length === 0 ? true : parts.join(' && ')
}

const condValue = (c: Cond): string => (typeof c === 'string' ? c : String(c))

/** `c ? a : b`, folded when `c` is a constant. */
function pick(c: Cond, a: string, b: string): string {
  if (c === true) return a
  if (c === false) return b
  return `${c} ? ${a.includes(' ? ') ? `(${a})` : a} : ${b.includes(' ? ') ? `(${b})` : b}`
}

// ---------------------------------------------------------------------------------------------
// Stage 2: the model of one message
// ---------------------------------------------------------------------------------------------

const PRIMITIVES = [
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'string',
  'bytes',
  'records',
  'uuid',
] as const
type Primitive = (typeof PRIMITIVES)[number]
const isPrimitive = (t: string): t is Primitive => (PRIMITIVES as readonly string[]).includes(t)

/** Primitives allowed as array elements, with the suffix of their codec-support helpers. */
const ARRAY_HELPERS: Partial<Record<Primitive, string>> = {
  int8: 'Int8Array',
  int16: 'Int16Array',
  uint16: 'UInt16Array',
  int32: 'Int32Array',
  uint32: 'UInt32Array',
  int64: 'Int64Array',
  float64: 'Float64Array',
  bool: 'BoolArray',
  string: 'StringArray',
  uuid: 'UuidArray',
}

const SCALAR_CODEC: Partial<Record<Primitive, string>> = {
  bool: 'Boolean',
  int8: 'Int8',
  int16: 'Int16',
  uint16: 'UInt16',
  int32: 'Int32',
  uint32: 'UInt32',
  int64: 'Int64',
  float64: 'Float64',
  uuid: 'Uuid',
}

type TypeRef =
  | { kind: 'primitive'; name: Primitive }
  | { kind: 'struct'; struct: StructInfo }
  | { kind: 'array'; item: { kind: 'primitive'; name: Primitive } | { kind: 'struct'; struct: StructInfo } }

interface StructInfo {
  /** The struct's type name in the JSON ("TopicProduceData"), or the message name at the top. */
  jsonName: string
  tsName: string
  specFields: FieldSchema[]
  fields: FieldInfo[]
  /** The versions in which this struct can be encoded (hull of all its uses). */
  ctx: Range
  top: boolean
}

interface FieldInfo {
  spec: FieldSchema
  prop: string
  type: TypeRef
  versions: Range
  nullable: Range
  tagged: Range
  /** Versions in which the field is a regular (untagged) field. */
  regular: Range
  /** Field-level flexibleVersions override (the RequestHeader's ClientId is never compact). */
  flexibleOverride: Range | null
  /** True when the TypeScript type includes null (nullable in some version). */
  hasNull: boolean
  /** The JSON default parsed: null, or a literal for scalars/strings; undefined = type default. */
  defaultValue: null | string | undefined
}

export function propName(jsonName: string): string {
  return jsonName.charAt(0).toLowerCase() + jsonName.slice(1)
}

/** kebab-case file name of a message: ProduceRequest → produce-request.ts. */
export function fileNameOf(message: string): string {
  return `${message
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()}.ts`
}

class MessageModel {
  readonly schema: MessageSchema
  readonly valid: Range
  readonly flexible: Range
  readonly structs: StructInfo[] = []
  readonly top: StructInfo
  private readonly byName = new Map<string, StructInfo>()
  private readonly common: Map<string, StructSchema>

  constructor(schema: MessageSchema) {
    this.schema = schema
    this.valid = parseVersions(schema.validVersions, `${schema.name}.validVersions`)
    if (isEmpty(this.valid) || this.valid.max === Infinity) throw new Error(`${schema.name}: bad validVersions`)
    this.flexible = parseVersions(schema.flexibleVersions, `${schema.name}.flexibleVersions`)
    this.common = new Map((schema.commonStructs ?? []).map((s) => [s.name, s]))
    this.top = {
      jsonName: schema.name,
      tsName: schema.name,
      specFields: schema.fields,
      fields: [],
      ctx: this.valid,
      top: true,
    }
    this.structs.push(this.top)
    this.visit(this.top)
  }

  /** (Re)builds a struct's fields; re-run when the struct's context widens. */
  private visit(struct: StructInfo): void {
    const props = new Set<string>()
    const tags = new Set<number>()
    struct.fields = struct.specFields.map((spec) => {
      const field = this.field(spec, struct)
      if (props.has(field.prop))
        throw new Error(`${this.schema.name}: duplicate field ${field.prop} in ${struct.jsonName}`)
      props.add(field.prop)
      if (field.spec.tag !== undefined) {
        if (tags.has(field.spec.tag)) throw new Error(`${this.schema.name}: duplicate tag ${field.spec.tag}`)
        tags.add(field.spec.tag)
      }
      return field
    })
  }

  private field(spec: FieldSchema, parent: StructInfo): FieldInfo {
    const where = `${this.schema.name}.${parent.jsonName}.${spec.name}`
    const versions = parseVersions(spec.versions, where)
    const nullable = intersect(parseVersions(spec.nullableVersions, where), versions)
    const tagged = intersect(parseVersions(spec.taggedVersions, where), versions)
    if (!isEmpty(tagged) && spec.tag === undefined) throw new Error(`${where}: taggedVersions without a tag`)
    if (!isEmpty(tagged) && !contains(this.flexible, tagged))
      throw new Error(`${where}: tagged outside flexible versions`)
    const type = this.typeOf(spec, intersect(parent.ctx, versions), where)
    const hasNull = !isEmpty(nullable)
    if (
      hasNull &&
      !['string', 'bytes', 'records', 'array'].includes(type.kind === 'primitive' ? type.name : type.kind)
    ) {
      throw new Error(`${where}: nullable ${spec.type} is not supported`)
    }
    return {
      spec,
      prop: propName(spec.name),
      type,
      versions,
      nullable,
      tagged,
      regular: subtract(versions, tagged, where),
      flexibleOverride: spec.flexibleVersions === undefined ? null : parseVersions(spec.flexibleVersions, where),
      hasNull,
      defaultValue: parseDefault(spec, type, hasNull, where),
    }
  }

  private typeOf(spec: FieldSchema, ctx: Range, where: string): TypeRef {
    const isArray = spec.type.startsWith('[]')
    const base = isArray ? spec.type.slice(2) : spec.type
    if (isPrimitive(base)) {
      if (spec.fields !== undefined) throw new Error(`${where}: a ${base} field cannot have fields`)
      if (!isArray) return { kind: 'primitive', name: base }
      if (ARRAY_HELPERS[base] === undefined) throw new Error(`${where}: arrays of ${base} are not supported`)
      return { kind: 'array', item: { kind: 'primitive', name: base } }
    }
    const struct = this.struct(base, spec, ctx, where)
    return isArray ? { kind: 'array', item: { kind: 'struct', struct } } : { kind: 'struct', struct }
  }

  private struct(name: string, spec: FieldSchema, ctx: Range, where: string): StructInfo {
    if (!/^[A-Z]\w*$/.test(name)) throw new Error(`${where}: bad type ${spec.type}`)
    let specFields: FieldSchema[]
    if (spec.fields !== undefined) {
      specFields = spec.fields
    } else {
      const common = this.common.get(name)
      if (common === undefined) throw new Error(`${where}: unknown struct ${name}`)
      specFields = common.fields
    }
    const existing = this.byName.get(name)
    if (existing !== undefined) {
      // The same definition reached again (a common struct used twice, or a re-visit): widen.
      if (existing.specFields !== specFields) throw new Error(`${where}: struct ${name} is defined twice`)
      if (!contains(existing.ctx, ctx)) {
        existing.ctx = hull(existing.ctx, ctx)
        this.visit(existing)
      }
      return existing
    }
    const tsName = `${this.schema.name}${name}`
    if (tsName === `${this.schema.name}Input`) throw new Error(`${where}: struct name ${name} is reserved`)
    const struct: StructInfo = { jsonName: name, tsName, specFields, fields: [], ctx, top: false }
    this.byName.set(name, struct)
    this.structs.push(struct)
    this.visit(struct)
    return struct
  }
}

/** Parses a JSON default ("null", "0x7fffffff", "-1", "true", a plain string) into code. */
function parseDefault(spec: FieldSchema, type: TypeRef, hasNull: boolean, where: string): null | string | undefined {
  const raw = spec.default
  if (raw === undefined) return undefined
  if (raw === 'null') {
    if (!hasNull) throw new Error(`${where}: default null on a field that is never nullable`)
    return null
  }
  if (type.kind !== 'primitive') throw new Error(`${where}: unsupported default ${JSON.stringify(raw)}`)
  switch (type.name) {
    case 'bool':
      if (raw === true || raw === 'true') return 'true'
      if (raw === false || raw === 'false') return 'false'
      break
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64': {
      const text = String(raw)
      if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(text)) break
      const negative = text.startsWith('-')
      const value = BigInt(negative ? text.slice(1) : text) * (negative ? -1n : 1n)
      return type.name === 'int64' ? `${value}n` : String(Number(value))
    }
    case 'float64':
      if (Number.isFinite(Number(raw))) return String(Number(raw))
      break
    case 'string':
      if (typeof raw === 'string') return quote(raw)
      break
  }
  throw new Error(`${where}: unsupported default ${JSON.stringify(raw)} for ${spec.type}`)
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`
}

// ---------------------------------------------------------------------------------------------
// Stage 2: code emission
// ---------------------------------------------------------------------------------------------

const HEADER = (source: string): string =>
  [
    "// Generated by scripts/generate-protocol.ts from Apache Kafka's message definitions (Apache-2.0):",
    `// ${source}. Do not edit: change the generator and run \`npm run generate\`.`,
  ].join('\n')

const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await arguments eval undefined ' +
    'w v r tw tr tag tagged version flexible out list i n'
  ).split(' '),
)

/** Names the codec-support module exports (imported on demand). */
const SUPPORT_VALUES = [
  'EMPTY_BYTES',
  'ZERO_UUID',
  'isZeroUuid',
  'nonNullable',
  'malformedNull',
  'unsupportedVersion',
  'skipEmptyTaggedFields',
  'readRecords',
  'writeRecords',
  ...Object.values(ARRAY_HELPERS).flatMap((s) => [`read${s}`, `write${s}`]),
]

class Lines {
  readonly lines: string[] = []
  private depth = 0

  line(text = ''): this {
    this.lines.push(text === '' ? '' : '  '.repeat(this.depth) + text)
    return this
  }

  open(text: string): this {
    this.line(text)
    this.depth++
    return this
  }

  close(text = '}'): this {
    this.depth--
    return this.line(text)
  }

  /** Ends a level opened without a brace (a `case` label). */
  dedent(): this {
    this.depth--
    return this
  }

  toString(): string {
    return this.lines.join('\n')
  }
}

type HelperKind = 'readArray' | 'writeArray' | 'default' | 'isDefault'

class MessageEmitter {
  private readonly m: MessageModel
  private readonly name: string
  /** Helper functions requested while emitting: 'default', 'isDefault', 'readArray', 'writeArray'. */
  private readonly needed = new Map<string, { kind: HelperKind; struct: StructInfo }>()

  constructor(model: MessageModel) {
    this.m = model
    this.name = model.schema.name
  }

  /** Requests a helper function for `struct` and returns its name. */
  private need(kind: HelperKind, struct: StructInfo): string {
    const fn = kind.endsWith('Array') ? `${kind.slice(0, -5)}${struct.tsName}Array` : `${kind}${struct.tsName}`
    if (!this.needed.has(fn)) this.needed.set(fn, { kind, struct })
    return fn
  }

  emit(): string {
    const out = new Lines()
    for (const s of this.m.structs) this.emitInterface(out, s)
    out.line(`/** The input of {@link write${this.name}}: every field optional (undefined = default). */`)
    out.line(`export type ${this.name}Input = DeepPartial<${this.name}>`)
    out.line()
    this.emitGrammar(out)
    for (const s of this.m.structs) {
      this.emitRead(out, s)
      this.emitWrite(out, s)
    }
    // Helpers may request further helpers (a default of a struct holding a struct): drain the queue.
    const done = new Set<string>()
    for (;;) {
      const pending = [...this.needed.entries()].filter(([key]) => !done.has(key))
      if (pending.length === 0) break
      for (const [key, { kind, struct }] of pending) {
        done.add(key)
        this.emitHelper(out, kind, struct)
      }
    }
    const body = out.toString().replace(/\n+$/, '')
    return `${HEADER(`${this.m.schema.name}.json, via ${SCHEMA_DIR}/${this.m.schema.name}.json`)}\n${this.imports(body)}\n${body}\n`
  }

  private imports(body: string): string {
    const uses = (id: string): boolean => new RegExp(`\\b${id}\\b`).test(body)
    const lines: string[] = []
    const support = SUPPORT_VALUES.filter(uses).sort()
    if (support.length > 0) lines.push(`import { ${support.join(', ')} } from '../codec-support.ts'`)
    const supportTypes = ['DeepPartial', 'Records'].filter(uses)
    if (supportTypes.length > 0) lines.push(`import type { ${supportTypes.join(', ')} } from '../codec-support.ts'`)
    if (uses('Reader')) lines.push(`import type { Reader } from '../reader.ts'`)
    if (uses('Writer')) lines.push(`import type { Writer } from '../writer.ts'`)
    return `${lines.join('\n')}\n`
  }

  // --- types -----------------------------------------------------------------------------------

  private tsType(f: FieldInfo): string {
    const t = f.type
    let base: string
    if (t.kind === 'primitive') base = primitiveType(t.name)
    else if (t.kind === 'struct') base = t.struct.tsName
    else base = `${t.item.kind === 'primitive' ? primitiveType(t.item.name) : t.item.struct.tsName}[]`
    return f.hasNull ? `${base} | null` : base
  }

  private emitInterface(out: Lines, s: StructInfo): void {
    if (s.top) {
      const key = this.m.schema.apiKey === undefined ? '' : ` (API key ${this.m.schema.apiKey})`
      out.line(
        `/** ${this.name}${key}, versions ${formatRange(this.m.valid)}. Wire grammar: {@link read${this.name}}. */`,
      )
    } else {
      out.line(`/** ${s.jsonName} of ${this.name}. */`)
    }
    out.open(`export interface ${s.tsName} {`)
    for (const f of s.fields) out.line(`${f.prop}: ${this.tsType(f)}`)
    out.close()
    out.line()
  }

  // --- grammar comment -------------------------------------------------------------------------

  private emitGrammar(out: Lines): void {
    const schema = this.m.schema
    const facts = [`versions ${formatRange(this.m.valid)}`]
    if (!isEmpty(this.m.flexible)) facts.push(`flexible ${formatRange(this.m.flexible)}`)
    if (schema.deprecatedVersions !== undefined) facts.push(`deprecated ${schema.deprecatedVersions}`)
    out.line('/*')
    out.line(` * ${this.name} => ${facts.join(', ')}`)
    const seen = new Set<StructInfo>()
    const walk = (s: StructInfo, indent: string): void => {
      for (const f of s.fields) {
        const notes: string[] = []
        if (!contains(f.versions, s.ctx)) notes.push(`v${formatRange(f.versions)}`)
        if (f.hasNull) notes.push(`nullable ${formatRange(f.nullable)}`)
        if (!isEmpty(f.tagged)) notes.push(`tag ${f.spec.tag} in ${formatRange(f.tagged)}`)
        if (f.flexibleOverride !== null)
          notes.push(`compact ${formatRange(intersect(f.flexibleOverride, this.m.flexible))}`)
        if (f.spec.default !== undefined) notes.push(`default ${f.spec.default}`)
        out.line(` * ${indent}${f.prop}: ${f.spec.type}${notes.length > 0 ? `  (${notes.join(', ')})` : ''}`)
        const t = f.type
        const nested =
          t.kind === 'struct' ? t.struct : t.kind === 'array' && t.item.kind === 'struct' ? t.item.struct : null
        if (nested !== null && !seen.has(nested)) {
          seen.add(nested)
          walk(nested, `${indent}  `)
        }
      }
    }
    walk(this.m.top, '  ')
    out.line(' */')
  }

  // --- reading ---------------------------------------------------------------------------------

  /** The struct-level flexible condition, and the name under which function bodies see it. */
  private flexibleOf(s: StructInfo): Cond {
    const c = gate(this.m.flexible, s.ctx)
    return typeof c === 'string' ? 'flexible' : c
  }

  /** Whether `f` uses compact encodings, within the versions where the field is present. */
  private compactOf(f: FieldInfo, s: StructInfo): Cond {
    const ctx = intersect(s.ctx, f.versions)
    if (f.flexibleOverride !== null) return gate(intersect(f.flexibleOverride, this.m.flexible), ctx)
    const c = gate(this.m.flexible, ctx)
    return typeof c === 'string' ? this.flexibleOf(s) : c
  }

  private readValue(f: FieldInfo, s: StructInfo, rv: string): string {
    const t = f.type
    const json = f.spec.name
    const cc = this.compactOf(f, s)
    const nullCond = gate(f.nullable, intersect(s.ctx, f.versions))
    if (t.kind === 'struct') return `read${t.struct.tsName}(${rv}, version)`
    if (t.kind === 'array') {
      const nullableRead =
        t.item.kind === 'primitive'
          ? `read${ARRAY_HELPERS[t.item.name]}(${rv}, ${condValue(cc)})`
          : `${this.need('readArray', t.item.struct)}(${rv}, version, ${condValue(cc)})`
      return pick(nullCond, nullableRead, `(${nullableRead} ?? malformedNull('${json}'))`)
    }
    switch (t.name) {
      case 'string':
      case 'bytes': {
        const kind = t.name === 'string' ? 'String' : 'Bytes'
        const nullableRead = pick(cc, `${rv}.readCompactNullable${kind}()`, `${rv}.readNullable${kind}()`)
        const plainRead = pick(cc, `${rv}.readCompact${kind}()`, `${rv}.read${kind}()`)
        return pick(nullCond, nullableRead, plainRead)
      }
      case 'records': {
        const nullableRead = `readRecords(${rv}, ${condValue(cc)})`
        return pick(nullCond, nullableRead, `(${nullableRead} ?? malformedNull('${json}'))`)
      }
      default:
        return `${rv}.read${SCALAR_CODEC[t.name]}()`
    }
  }

  /** The value a reader gives a field that is absent from the version (a fresh object each time). */
  private readDefault(f: FieldInfo): string {
    if (f.defaultValue === null) return 'null'
    if (f.defaultValue !== undefined) return f.defaultValue
    const t = f.type
    if (t.kind === 'array') return '[]'
    if (t.kind === 'struct') return `${this.need('default', t.struct)}()`
    switch (t.name) {
      case 'bool':
        return 'false'
      case 'int64':
        return '0n'
      case 'string':
        return "''"
      case 'bytes':
        return 'EMPTY_BYTES'
      case 'records':
        return f.hasNull ? 'null' : '(EMPTY_BYTES as Records)'
      case 'uuid':
        return 'ZERO_UUID'
      default:
        return '0'
    }
  }

  private emitRead(out: Lines, s: StructInfo): void {
    const flexible = gate(this.m.flexible, s.ctx)
    const tagged = s.fields.filter((f) => gate(f.tagged, s.ctx) !== false).sort((a, b) => a.spec.tag! - b.spec.tag!)
    const body = new Lines()
    if (s.top) {
      body.line(`if (version < ${s.ctx.min} || version > ${s.ctx.max}) unsupportedVersion('${this.name}', version)`)
    }
    if (typeof flexible === 'string') body.line(`const flexible = ${flexible}`)
    body.open(flexible === false ? 'return {' : `const out: ${s.tsName} = {`)
    for (const f of s.fields) {
      body.line(`${f.prop}: ${pick(gate(f.regular, s.ctx), this.readValue(f, s, 'r'), this.readDefault(f))},`)
    }
    body.close()
    if (flexible !== false) {
      if (tagged.length === 0) {
        body.line(`${flexible === true ? '' : 'if (flexible) '}r.readTaggedFields()`)
      } else {
        // Known tags are decoded from a reader bounded to the field; the rest are skipped by size.
        // An empty block (the usual case) is consumed without creating the callback.
        body.open(`if (${typeof flexible === 'string' ? 'flexible && ' : ''}!skipEmptyTaggedFields(r)) {`)
        body.open('r.readTaggedFields((tag, tr) => {')
        body.open('switch (tag) {')
        for (const f of tagged) {
          body.open(`case ${f.spec.tag}:`)
          const c = gate(f.tagged, intersect(s.ctx, this.m.flexible))
          const assign = `out.${f.prop} = ${this.readValue(f, s, 'tr')}`
          if (c === true) {
            body.line(assign).line('return true')
          } else {
            body.open(`if (${c}) {`).line(assign).line('return true').close()
            body.line('return false')
          }
          body.dedent()
        }
        body.open('default:').line('return false').dedent()
        body.close()
        body.close('})')
        body.close()
      }
      body.line('return out')
    }
    const text = body.toString()
    const rParam = /\br\./.test(text) || /\(r,/.test(text) ? 'r' : '_r'
    const vParam = /\bversion\b/.test(text) ? 'version' : '_version'
    if (s.top) {
      out.line(`/** Decodes ${this.name} at \`version\` from \`r\`, advancing it past the message. */`)
    }
    out.open(`${s.top ? 'export ' : ''}function read${s.tsName}(${rParam}: Reader, ${vParam}: number): ${s.tsName} {`)
    for (const l of body.lines) out.line(l)
    out.close()
    out.line()
  }

  // --- writing ---------------------------------------------------------------------------------

  /** The value written when the input leaves a field undefined. */
  private writeDefault(f: FieldInfo): string {
    if (f.defaultValue === null) return 'null'
    if (f.defaultValue !== undefined) return f.defaultValue
    const t = f.type
    if (t.kind === 'array') return '[]'
    if (t.kind === 'struct') return '{}'
    switch (t.name) {
      case 'records':
        return f.hasNull ? 'null' : 'EMPTY_BYTES'
      case 'uuid':
        return 'ZERO_UUID'
      default:
        return this.readDefault(f)
    }
  }

  /** Statements writing field `f` from `src` (an expression that may be undefined) with `wv`. */
  private writeStatements(f: FieldInfo, s: StructInfo, wv: string, src: string, defined = false): string[] {
    const t = f.type
    const json = f.spec.name
    const present = intersect(s.ctx, f.versions)
    const cc = this.compactOf(f, s)
    // undefined means the default; null is only accepted where the field is nullable.
    let value: string
    if (defined) value = f.hasNull ? src : `${src} ?? nonNullable('${json}')`
    else if (f.hasNull) value = `${src} === undefined ? ${this.writeDefault(f)} : ${src}`
    else value = `${src} ?? (${src} === undefined ? ${this.writeDefault(f)} : nonNullable('${json}'))`
    const calls = (x: string): string[] => {
      if (t.kind === 'struct') return [`write${t.struct.tsName}(${wv}, version, ${x})`]
      if (t.kind === 'array') {
        if (t.item.kind === 'primitive') return [`write${ARRAY_HELPERS[t.item.name]}(${wv}, ${condValue(cc)}, ${x})`]
        return [`${this.need('writeArray', t.item.struct)}(${wv}, version, ${condValue(cc)}, ${x})`]
      }
      switch (t.name) {
        case 'string':
        case 'bytes': {
          const kind = t.name === 'string' ? 'String' : 'Bytes'
          const nullable = f.hasNull ? 'Nullable' : ''
          const compact = `${wv}.appendCompact${nullable}${kind}(${x})`
          const classic = `${wv}.append${nullable}${kind}(${x})`
          if (cc === true) return [compact]
          if (cc === false) return [classic]
          return [`if (${cc}) ${compact}`, `else ${classic}`]
        }
        case 'records':
          return [`writeRecords(${wv}, ${x}, ${condValue(cc)})`]
        default:
          return [`${wv}.append${SCALAR_CODEC[t.name]}(${x})`]
      }
    }
    const notNullable = f.hasNull ? gate(subtract(present, f.nullable, json), present) : false
    if (calls('x').length === 1 && notNullable === false) return calls(value)
    const local = localName(f.prop)
    const lines = [`const ${local} = ${value}`]
    if (notNullable !== false) {
      lines.push(`if (${local} === null${notNullable === true ? '' : ` && ${notNullable}`}) nonNullable('${json}')`)
    }
    return [...lines, ...calls(local)]
  }

  /** An expression true when `x` (not undefined) equals the field's default. */
  private isDefaultExpr(f: FieldInfo, x: string): string {
    const t = f.type
    if (f.defaultValue === null) return `${x} === null`
    if (f.defaultValue !== undefined) return `${x} === ${f.defaultValue}`
    if (t.kind === 'array') return `(${x} !== null && ${x}.length === 0)`
    if (t.kind === 'struct') return `(${x} !== null && ${this.need('isDefault', t.struct)}(${x}))`
    switch (t.name) {
      case 'bytes':
      case 'records':
        return f.hasNull && t.name === 'records' ? `${x} === null` : `(${x} !== null && ${x}.length === 0)`
      case 'uuid':
        return `(${x} !== null && isZeroUuid(${x}))`
      default:
        return `${x} === ${this.readDefault(f)}`
    }
  }

  private emitWrite(out: Lines, s: StructInfo): void {
    const flexible = gate(this.m.flexible, s.ctx)
    const body = new Lines()
    if (s.top) {
      body.line(`if (version < ${s.ctx.min} || version > ${s.ctx.max}) unsupportedVersion('${this.name}', version)`)
    }
    if (typeof flexible === 'string') body.line(`const flexible = ${flexible}`)
    for (const f of s.fields) {
      const c = gate(f.regular, s.ctx)
      if (c === false) continue
      const stmts = this.writeStatements(f, s, 'w', `v.${f.prop}`)
      if (c === true) for (const l of stmts) body.line(l)
      else if (stmts.length === 1) body.line(`if (${c}) ${stmts[0]}`)
      else {
        body.open(`if (${c}) {`)
        for (const l of stmts) body.line(l)
        body.close()
      }
    }
    const tagged = s.fields.filter((f) => gate(f.tagged, s.ctx) !== false).sort((a, b) => a.spec.tag! - b.spec.tag!)
    if (flexible !== false) {
      if (tagged.length === 0) {
        body.line(`${flexible === true ? '' : 'if (flexible) '}w.appendEmptyTaggedFields()`)
      } else {
        body.open(flexible === true ? '{' : 'if (flexible) {')
        // Tagged fields are sent only when set to something other than their default.
        body.line('let tagged: [number, (w: Writer) => void][] | undefined')
        for (const f of tagged) {
          const local = localName(f.prop)
          const c = gate(f.tagged, intersect(s.ctx, this.m.flexible))
          body.line(`const ${local} = v.${f.prop}`)
          const conds = [...(c === true ? [] : [c]), `${local} !== undefined`, negate(this.isDefaultExpr(f, local))]
          body.open(`if (${conds.join(' && ')}) {`)
          body.open(`(tagged ??= []).push([${f.spec.tag}, (tw) => {`)
          for (const l of this.writeStatements(f, s, 'tw', local, true)) body.line(l)
          body.close('}])')
          body.close()
        }
        body.line('if (tagged === undefined) w.appendEmptyTaggedFields()')
        body.line('else w.appendTaggedFields(tagged)')
        body.close()
      }
    }
    if (s.top) body.line('return w')
    const text = body.toString()
    const vParam = /\bv\./.test(text) ? 'v' : '_v'
    const versionParam = /\bversion\b/.test(text) ? 'version' : '_version'
    const input = s.top ? `${this.name}Input` : `DeepPartial<${s.tsName}>`
    if (s.top) {
      out.line(`/** Encodes ${this.name} at \`version\`; undefined fields take their defaults. Returns \`w\`. */`)
    }
    const ret = s.top ? 'Writer' : 'void'
    out.open(
      `${s.top ? 'export ' : ''}function write${s.tsName}(w: Writer, ${versionParam}: number, ${vParam}: ${input}): ${ret} {`,
    )
    for (const l of body.lines) out.line(l)
    out.close()
    out.line()
  }

  // --- helpers ---------------------------------------------------------------------------------

  private emitHelper(out: Lines, kind: HelperKind, s: StructInfo): void {
    const ts = s.tsName
    switch (kind) {
      case 'readArray':
        out.open(`function read${ts}Array(r: Reader, version: number, compact: boolean): ${ts}[] | null {`)
        out.line('const n = r.readArrayLength(compact)')
        out.line('if (n === -1) return null')
        out.line(`const list = new Array<${ts}>(n)`)
        out.line(`for (let i = 0; i < n; i++) list[i] = read${ts}(r, version)`)
        out.line('return list')
        break
      case 'writeArray':
        out.open(
          `function write${ts}Array(w: Writer, version: number, compact: boolean, list: readonly DeepPartial<${ts}>[] | null): void {`,
        )
        out.line('w.appendArrayLength(list === null ? null : list.length, compact)')
        out.line(`if (list !== null) for (let i = 0; i < list.length; i++) write${ts}(w, version, list[i])`)
        break
      case 'default':
        out.line(`/** A new ${s.jsonName} holding every field's default. */`)
        out.open(`function default${ts}(): ${ts} {`)
        out.open('return {')
        for (const f of s.fields) out.line(`${f.prop}: ${this.readDefault(f)},`)
        out.close()
        break
      case 'isDefault': {
        out.open(`function isDefault${ts}(${s.fields.length === 0 ? '_v' : 'v'}: DeepPartial<${ts}>): boolean {`)
        const terms = s.fields.map((f) => `(v.${f.prop} === undefined || ${this.isDefaultExpr(f, `v.${f.prop}`)})`)
        if (terms.length === 0) out.line('return true')
        else {
          out.open('return (')
          terms.forEach((t, i) => out.line(`${t}${i < terms.length - 1 ? ' &&' : ''}`))
          out.close(')')
        }
        break
      }
    }
    out.close()
    out.line()
  }
}

function negate(expr: string): string {
  if (/^[\w.]+ === [^&|?]+$/.test(expr)) return expr.replace(' === ', ' !== ')
  return `!${expr.startsWith('(') ? expr : `(${expr})`}`
}

function localName(prop: string): string {
  return RESERVED.has(prop) || /^(read|write|default|isDefault)[A-Z]/.test(prop) ? `${prop}Value` : prop
}

function primitiveType(p: Primitive): string {
  switch (p) {
    case 'bool':
      return 'boolean'
    case 'int64':
      return 'bigint'
    case 'string':
      return 'string'
    case 'bytes':
    case 'uuid':
      return 'Buffer'
    case 'records':
      return 'Records'
    default:
      return 'number'
  }
}

/** Generates the TypeScript module of one message. */
export function emitMessage(schema: MessageSchema): string {
  return new MessageEmitter(new MessageModel(schema)).emit()
}

/** The exported names of a generated module, for the duplicate check across modules. */
function exportedNames(code: string): string[] {
  return [...code.matchAll(/^export (?:interface|type|function|const) (\w+)/gm)].map((m) => m[1])
}

/** The API-level view of a request definition, for the apiKeys table. */
interface ApiInfo {
  apiKey: number
  name: string
  min: number
  max: number
  flexibleFrom: number | null
  deprecatedUpTo: number | null
}

function emitIndex(schemas: readonly MessageSchema[]): string {
  const apis: ApiInfo[] = []
  const byName = new Map(schemas.map((s) => [s.name, s]))
  for (const s of schemas) {
    if (s.type !== 'request') continue
    const api = s.name.replace(/Request$/, '')
    const response = byName.get(`${api}Response`)
    if (s.apiKey === undefined) throw new Error(`${s.name} has no apiKey`)
    if (response === undefined) throw new Error(`${s.name} is listed without ${api}Response`)
    if (response.validVersions !== s.validVersions || response.flexibleVersions !== s.flexibleVersions) {
      throw new Error(`${api}: request and response version ranges differ`)
    }
    const valid = parseVersions(s.validVersions)
    const flexible = parseVersions(s.flexibleVersions)
    const deprecated = parseVersions(s.deprecatedVersions)
    apis.push({
      apiKey: s.apiKey,
      name: api,
      min: valid.min,
      max: valid.max,
      flexibleFrom: isEmpty(flexible) ? null : flexible.min,
      deprecatedUpTo: isEmpty(deprecated) ? null : deprecated.max,
    })
  }
  apis.sort((a, b) => a.apiKey - b.apiKey)
  const out = new Lines()
  out.line(HEADER(`every message listed in the generator, via ${SCHEMA_DIR}/`))
  for (const s of schemas) out.line(`export * from './${fileNameOf(s.name)}'`)
  out.line("export type { DeepPartial, Records } from '../codec-support.ts'")
  out.line()
  out.line('/** What the generated codecs know about one API key. */')
  out.open('export interface ApiKeyInfo {')
  out.line("/** The API's name without Request/Response: 'Produce'. */")
  out.line('readonly name: string')
  out.line('/** The lowest and highest version Kafka defines. */')
  out.line('readonly validVersions: readonly [number, number]')
  out.line('/** The first flexible version (compact encodings, tagged fields, header v2/v1), or null. */')
  out.line('readonly flexibleFrom: number | null')
  out.line('/** The highest deprecated version (KIP-896: removed in Kafka 4), or null. */')
  out.line('readonly deprecatedUpTo: number | null')
  out.close()
  out.line()
  out.line('/** Every generated API by key. Unknown keys give undefined. */')
  out.open('export const apiKeys: { readonly [apiKey: number]: ApiKeyInfo | undefined } = {')
  for (const a of apis) {
    out.line(
      `${a.apiKey}: { name: '${a.name}', validVersions: [${a.min}, ${a.max}], flexibleFrom: ${a.flexibleFrom}, deprecatedUpTo: ${a.deprecatedUpTo} },`,
    )
  }
  out.close()
  out.line()
  out.line('/** API keys by name: `ApiKey.Produce === 0`. */')
  out.open('export const ApiKey = {')
  for (const a of apis) out.line(`${a.name}: ${a.apiKey},`)
  out.close('} as const')
  out.line()
  out.line('/** The request header version for an API version: 2 when that version is flexible, else 1. */')
  out.open('export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {')
  out.line('const flexibleFrom = apiKeys[apiKey]?.flexibleFrom')
  out.line('return flexibleFrom !== undefined && flexibleFrom !== null && apiVersion >= flexibleFrom ? 2 : 1')
  out.close()
  out.line()
  out.line('/**')
  out.line(' * The response header version for an API version: 1 when that version is flexible, else 0.')
  out.line(' * ApiVersions always answers with header v0: a client that does not know the broker yet must be')
  out.line(' * able to parse the answer, so it never carries the tagged-field byte.')
  out.line(' */')
  out.open('export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {')
  if (apis.some((a) => a.name === 'ApiVersions')) out.line('if (apiKey === ApiKey.ApiVersions) return 0')
  out.line('const flexibleFrom = apiKeys[apiKey]?.flexibleFrom')
  out.line('return flexibleFrom !== undefined && flexibleFrom !== null && apiVersion >= flexibleFrom ? 1 : 0')
  out.close()
  return `${out.toString()}`
}

/** Stage 2 in memory: `src/protocol/messages/<file>.ts` path → content, plus the index. */
export function emit(schemas: readonly MessageSchema[]): Map<string, string> {
  const files = new Map<string, string>()
  const owners = new Map<string, string>()
  for (const schema of schemas) {
    const code = emitMessage(schema)
    for (const name of exportedNames(code)) {
      const other = owners.get(name)
      if (other !== undefined) throw new Error(`${name} is exported by both ${other} and ${schema.name}`)
      owners.set(name, schema.name)
    }
    files.set(`${MESSAGES_DIR}/${fileNameOf(schema.name)}`, code)
  }
  files.set(`${MESSAGES_DIR}/index.ts`, emitIndex(schemas))
  return files
}

/** Parses schema files (as extract writes them) in message-list order. */
export function schemasFrom(
  files: ReadonlyMap<string, string>,
  messages: readonly string[] = MESSAGES,
): MessageSchema[] {
  return messages.map((name) => {
    const text = files.get(`${SCHEMA_DIR}/${name}.json`)
    if (text === undefined) throw new Error(`${SCHEMA_DIR}/${name}.json is missing (run with the source definitions)`)
    return JSON.parse(text) as MessageSchema
  })
}

/** Reads the committed schema files of the listed messages. */
export function readSchemaFiles(root: string, messages: readonly string[] = MESSAGES): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of messages) {
    const rel = `${SCHEMA_DIR}/${name}.json`
    const file = path.join(root, rel)
    if (fs.existsSync(file)) files.set(rel, fs.readFileSync(file, 'utf8'))
  }
  return files
}

// ---------------------------------------------------------------------------------------------
// Orchestration and CLI
// ---------------------------------------------------------------------------------------------

export interface GenerateOptions {
  /** Repository root (default: this script's parent folder). */
  root?: string
  /** Kafka's message definitions; null = skip extract. Default: env or ../shared/kafka-messages. */
  sourceDir?: string | null
  messages?: readonly string[]
}

export interface GenerateResult {
  /** Every generated file, by repository-relative path. */
  files: Map<string, string>
  /** The folders whose contents these files replace entirely. */
  dirs: string[]
  /** Whether the extract stage ran. */
  extracted: boolean
}

export function defaultSourceDir(root: string): string {
  return process.env.TICKFLOW_KAFKA_MESSAGES_DIR || path.resolve(root, '..', 'shared', 'kafka-messages')
}

/** Runs both stages in memory. Extract runs only when the source directory exists. */
export function generate(options: GenerateOptions = {}): GenerateResult {
  const root = options.root ?? REPO_ROOT
  const messages = options.messages ?? MESSAGES
  const sourceDir = options.sourceDir === undefined ? defaultSourceDir(root) : options.sourceDir
  const extracted = sourceDir !== null && fs.existsSync(sourceDir)
  const schemaFiles = extracted ? extract(sourceDir, messages) : readSchemaFiles(root, messages)
  const files = emit(schemasFrom(schemaFiles, messages))
  if (extracted) for (const [p, text] of schemaFiles) files.set(p, text)
  return { files, dirs: extracted ? [SCHEMA_DIR, MESSAGES_DIR] : [MESSAGES_DIR], extracted }
}

/** Generated-folder files that differ from `result`: one line each, empty when up to date. */
export function differences(root: string, result: GenerateResult): string[] {
  const problems: string[] = []
  for (const [rel, text] of result.files) {
    const file = path.join(root, rel)
    if (!fs.existsSync(file)) problems.push(`${rel}: missing (run npm run generate)`)
    else if (fs.readFileSync(file, 'utf8') !== text) problems.push(`${rel}: out of date (run npm run generate)`)
  }
  for (const dir of result.dirs) {
    const abs = path.join(root, dir)
    if (!fs.existsSync(abs)) continue
    for (const entry of fs.readdirSync(abs).sort()) {
      const rel = `${dir}/${entry}`
      if (!result.files.has(rel)) problems.push(`${rel}: not generated any more (run npm run generate to delete it)`)
    }
  }
  return problems
}

/** Writes `result` under `root`, deleting files the generator no longer produces. */
export function writeResult(root: string, result: GenerateResult): { written: number; deleted: number } {
  let written = 0
  let deleted = 0
  for (const dir of result.dirs) {
    const abs = path.join(root, dir)
    fs.mkdirSync(abs, { recursive: true })
    for (const entry of fs.readdirSync(abs)) {
      if (result.files.has(`${dir}/${entry}`)) continue
      fs.rmSync(path.join(abs, entry), { recursive: true })
      deleted++
    }
  }
  for (const [rel, text] of result.files) {
    const file = path.join(root, rel)
    // Unchanged files are left alone so their timestamps do not churn.
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue
    fs.writeFileSync(file, text)
    written++
  }
  return { written, deleted }
}

/** CLI entry: returns the exit code. */
export function main(argv: readonly string[], root = REPO_ROOT): number {
  let check = false
  let sourceDir: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--check') check = true
    else if (arg === '--source' && i + 1 < argv.length) sourceDir = path.resolve(argv[++i])
    else if (arg.startsWith('--source=')) sourceDir = path.resolve(arg.slice('--source='.length))
    else {
      console.error(`usage: node scripts/generate-protocol.ts [--check] [--source DIR]  (unknown argument ${arg})`)
      return 2
    }
  }
  const source = sourceDir ?? defaultSourceDir(root)
  let result: GenerateResult
  try {
    result = generate({ root, sourceDir: source })
  } catch (err) {
    console.error(`generate-protocol: ${(err as Error).message}`)
    return 1
  }
  if (!result.extracted) {
    console.log(`generate-protocol: ${source} not found; skipping extract, emitting from ${SCHEMA_DIR}`)
  }
  if (check) {
    const problems = differences(root, result)
    for (const p of problems) console.error(p)
    if (problems.length > 0) return 1
    console.log(`generate-protocol: ${result.files.size} generated files are up to date`)
    return 0
  }
  const { written, deleted } = writeResult(root, result)
  console.log(`generate-protocol: ${result.files.size} files generated, ${written} written, ${deleted} deleted`)
  return 0
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2))
