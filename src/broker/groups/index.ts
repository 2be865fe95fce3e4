/**
 * Consumer groups of the embedded broker: the classic-protocol group coordinator and the durable
 * store of committed offsets. The broker's group and offset handlers use {@link GroupCoordinator}.
 */
export { GroupCoordinator } from './coordinator.ts'
export type { CoordinatorOptions } from './coordinator.ts'
export { ClassicGroup, parseSubscriptionTopics } from './group.ts'
export type { GroupContext, GroupTimers } from './group.ts'
export { OffsetStore, OFFSETS_JOURNAL_FILE } from './offset-store.ts'
export type { CommittedOffset, OffsetCommitEntry, OffsetStoreOptions, StoredGroup } from './offset-store.ts'
export { GROUP_STATES } from './types.ts'
export type * from './types.ts'
