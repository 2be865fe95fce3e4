import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { parseBrokerList, probeTcp } from '../../src/bus/client.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { startTestBroker } from '../helpers/broker.ts'

test('parseBrokerList reads host:port lists, defaulting the port to 9092', () => {
  assert.deepEqual(parseBrokerList('localhost:9092'), ['localhost:9092'])
  assert.deepEqual(parseBrokerList('localhost'), ['localhost:9092'])
  assert.deepEqual(parseBrokerList('a:1,b:65535,c'), ['a:1', 'b:65535', 'c:9092'])
  assert.deepEqual(parseBrokerList(' a:19092 , b ,, '), ['a:19092', 'b:9092'])
  assert.deepEqual(parseBrokerList('127.0.0.1:29092'), ['127.0.0.1:29092'])
  assert.deepEqual(parseBrokerList('kafka-0.kafka.svc.cluster.local:9093'), ['kafka-0.kafka.svc.cluster.local:9093'])
  assert.deepEqual(parseBrokerList('localhost:09092'), ['localhost:9092'])
})

test('parseBrokerList takes IPv6 hosts in brackets', () => {
  assert.deepEqual(parseBrokerList('[::1]:9093'), ['[::1]:9093'])
  assert.deepEqual(parseBrokerList('[::1]'), ['[::1]:9092'])
  assert.deepEqual(parseBrokerList('[2001:db8::17]:19092,[fe80::1]'), ['[2001:db8::17]:19092', '[fe80::1]:9092'])
  assert.deepEqual(parseBrokerList('[::ffff:127.0.0.1]:1'), ['[::ffff:127.0.0.1]:1'])
})

test('parseBrokerList refuses empty lists and malformed addresses', () => {
  for (const text of [
    '',
    ' ',
    ',',
    ' , ,',
    'host:',
    ':9092',
    'host:0',
    'host:65536',
    'host:99999999999999999999',
    'host:-1',
    'host:90 92',
    'host:port',
    'host:9092:1',
    '::1',
    '::1:9092',
    '[::1',
    '::1]',
    '[]:9092',
    '[host]:9092',
    'a b:9092',
    'localhost:9092,bad:',
  ]) {
    assert.throws(() => parseBrokerList(text), { code: ErrorCodes.INVALID_ARGUMENT }, JSON.stringify(text))
  }
})

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('probeTcp is true where something accepts connections, false where nothing does', async (t) => {
  const server = net.createServer((socket) => socket.end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as net.AddressInfo).port
  assert.equal(await probeTcp('127.0.0.1', port), true)
  assert.equal(await probeTcp('127.0.0.1', port, 5000), true)

  assert.equal(await probeTcp('127.0.0.1', await closedPort()), false)
  assert.equal(await probeTcp('host.invalid', 9092), false)

  const broker = await startTestBroker(t)
  const [host, brokerPort] = broker.address.split(':')
  assert.equal(await probeTcp(host, Number(brokerPort)), true)
})
