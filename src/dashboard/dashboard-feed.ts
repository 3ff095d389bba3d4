import { DeliveryLog } from './delivery-log';
import type { RecordSummary } from './record-summary';
import { RecentRecords } from './recent-records';

/**
 * What the pipeline feeds the dashboard while it runs: the records as written (the tap) and its last logged problem.
 * Exists only with `dashboard` on; the page reads it when it asks.
 */
export class DashboardFeed {
  readonly records: RecentRecords<RecordSummary>;
  readonly deliveryLog = new DeliveryLog();

  constructor(maxRecordBytes: number) {
    this.records = new RecentRecords(maxRecordBytes);
  }
}
