/** Every API the broker serves: one file per key, one line here. */
import type { ApiRegistry } from '../registry.ts'
import produce from './00-produce.ts'
import fetch from './01-fetch.ts'
import listOffsets from './02-list-offsets.ts'
import metadata from './03-metadata.ts'
import offsetCommit from './08-offset-commit.ts'
import offsetFetch from './09-offset-fetch.ts'
import findCoordinator from './10-find-coordinator.ts'
import joinGroup from './11-join-group.ts'
import heartbeat from './12-heartbeat.ts'
import leaveGroup from './13-leave-group.ts'
import syncGroup from './14-sync-group.ts'
import describeGroups from './15-describe-groups.ts'
import listGroups from './16-list-groups.ts'
import apiVersions from './18-api-versions.ts'
import createTopics from './19-create-topics.ts'
import deleteTopics from './20-delete-topics.ts'
import deleteRecords from './21-delete-records.ts'
import initProducerId from './22-init-producer-id.ts'
import offsetForLeaderEpoch from './23-offset-for-leader-epoch.ts'
import addPartitionsToTxn from './24-add-partitions-to-txn.ts'
import addOffsetsToTxn from './25-add-offsets-to-txn.ts'
import endTxn from './26-end-txn.ts'
import txnOffsetCommit from './28-txn-offset-commit.ts'
import describeConfigs from './32-describe-configs.ts'
import alterConfigs from './33-alter-configs.ts'
import describeLogDirs from './35-describe-log-dirs.ts'
import createPartitions from './37-create-partitions.ts'
import deleteGroups from './42-delete-groups.ts'
import incrementalAlterConfigs from './44-incremental-alter-configs.ts'
import offsetDelete from './47-offset-delete.ts'
import describeCluster from './60-describe-cluster.ts'
import describeProducers from './61-describe-producers.ts'
import describeTransactions from './65-describe-transactions.ts'
import listTransactions from './66-list-transactions.ts'

export function registerApis(registry: ApiRegistry): ApiRegistry {
  return registry
    .register(produce)
    .register(fetch)
    .register(listOffsets)
    .register(metadata)
    .register(offsetCommit)
    .register(offsetFetch)
    .register(findCoordinator)
    .register(joinGroup)
    .register(heartbeat)
    .register(leaveGroup)
    .register(syncGroup)
    .register(describeGroups)
    .register(listGroups)
    .register(apiVersions)
    .register(createTopics)
    .register(deleteTopics)
    .register(deleteRecords)
    .register(initProducerId)
    .register(offsetForLeaderEpoch)
    .register(addPartitionsToTxn)
    .register(addOffsetsToTxn)
    .register(endTxn)
    .register(txnOffsetCommit)
    .register(describeConfigs)
    .register(alterConfigs)
    .register(describeLogDirs)
    .register(createPartitions)
    .register(deleteGroups)
    .register(incrementalAlterConfigs)
    .register(offsetDelete)
    .register(describeCluster)
    .register(describeProducers)
    .register(describeTransactions)
    .register(listTransactions)
}
