/**
 * The API registry: each file in `apis/` defines one API key with the version range the broker
 * serves, its codec and its handler; `apis/index.ts` registers them all. ApiVersions answers
 * from this registry, so an API is advertised exactly when it is implemented.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { Reader } from '../protocol/reader.ts'
import type { Writer } from '../protocol/writer.ts'
import type { BrokerContext } from './context.ts'

/** Returned by a handler when the request gets no response at all (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('tickflow.noResponse')

export interface RequestInfo {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
  /** The peer's address, for group member descriptions. */
  clientHost: string
  /** The connection's id (unique within the broker). */
  connectionId: number
}

export interface ApiDefinition<Req, Res> {
  key: number
  name: string
  minVersion: number
  maxVersion: number
  decode: (r: Reader, version: number) => Req
  encode: (w: Writer, version: number, value: Res) => unknown
  handle: (
    broker: BrokerContext,
    request: Req,
    info: RequestInfo,
  ) => Res | typeof NO_RESPONSE | Promise<Res | typeof NO_RESPONSE>
}

// The registry holds definitions of different request/response types side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyApi = ApiDefinition<any, any>

/** Declares an API; the object is registered by `apis/index.ts`. */
export function defineApi<Req, Res>(api: ApiDefinition<Req, Res>): ApiDefinition<Req, Res> {
  if (api.minVersion < 0 || api.maxVersion < api.minVersion) {
    throw new TickflowError(
      ErrorCodes.INVALID_CONFIG,
      `${api.name}: bad version range ${api.minVersion}-${api.maxVersion}`,
    )
  }
  return api
}

export class ApiRegistry {
  private readonly byKey = new Map<number, AnyApi>()

  register(api: AnyApi): this {
    const existing = this.byKey.get(api.key)
    if (existing !== undefined) {
      throw new TickflowError(
        ErrorCodes.DUPLICATE_REGISTRATION,
        `API key ${api.key} is registered twice (${existing.name} and ${api.name})`,
      )
    }
    this.byKey.set(api.key, api)
    return this
  }

  get(key: number): AnyApi | undefined {
    return this.byKey.get(key)
  }

  /** Every registered API, by ascending key. */
  list(): AnyApi[] {
    return [...this.byKey.values()].sort((a, b) => a.key - b.key)
  }
}
