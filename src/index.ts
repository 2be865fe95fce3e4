/** tickflow's public API. */
export { startBroker, type Broker, type BrokerOptions } from './broker/index.ts'
export { TickflowError, ErrorCodes, isTickflowError, type ErrorCode } from './errors.ts'
