// Errors raised by the data layer, with stable XMPPD_ERR_DATA_* codes. The data layer sits below
// core (imports go interface -> core -> data), so it carries its own error class.

export type DataErrorCode =
  | 'XMPPD_ERR_DATA_INVALID'   // bad table name, key, value or range option (a programming error)
  | 'XMPPD_ERR_DATA_CLOSED'    // the store is closed or closing
  | 'XMPPD_ERR_DATA_LOCKED'    // another process holds the database directory
  | 'XMPPD_ERR_DATA_FORMAT'    // the directory holds data in a format this version cannot read
  | 'XMPPD_ERR_DATA_APPLY'     // a transaction could not be applied; the store stopped accepting writes
  | 'XMPPD_ERR_DATA_SNAPSHOT'  // a snapshot is damaged, or cannot be loaded where it was asked to
  | 'XMPPD_ERR_DATA_CLUSTER';  // the replicated log (NATS JetStream) did not answer, or this replica cannot follow it

export class DataError extends Error {
  constructor(readonly code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
  }
}
