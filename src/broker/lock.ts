/** The broker's data-directory lock (`broker.lock`): see src/files/dir-lock.ts. */
export {
  BROKER_LOCK,
  DataDirLock,
  LOCK_FILE,
  readBrokerLock,
  type LockInfo as BrokerLockInfo,
} from '../files/dir-lock.ts'
