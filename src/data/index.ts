// The data layer's public surface: openStore() and the Store/Table types, plus the replication
// seam (ReplicationLog, LocalLog, applyEntries) that a cluster log builds on.
export { openStore, type OpenStoreOptions } from './open-store.js';
export { LocalLog, type LocalLogOptions } from './local-log.js';
export { DataError, type DataErrorCode } from './data-error.js';
export { DURABILITY_MODES, DEFAULT_GROUP_WINDOW_MS, DEFAULT_GROUP_SIZE, durabilityOptions, type Durability } from './durability.js';
export {
  SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SnapshotError, readSnapshot, writeSnapshot, loadSnapshot,
  type SnapshotHeader, type SnapshotTrailer, type SnapshotRow, type SnapshotItem, type SnapshotIn, type SnapshotOut, type LoadReport,
} from './snapshot.js';
export { applyEntries, type ApplyOutcome, type ApplyOptions, type PendingEvent, type RowDb } from './apply.js';
export type {
  Json, Row, Op, Cond, TxResult, RangeOptions, ChangeEvent, Table, Store,
  LogOp, LogEntry, LogItem, ReplicationLog,
} from './types.js';
