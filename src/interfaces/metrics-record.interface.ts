import type { HarLog } from './har.interface';

/** One record of the ReadMe Metrics API (`POST /v1/request` takes an array of these). */
export interface MetricsRecord {
  /** uuid v4, known from the start of the request. */
  _id: string;
  _version: 3;
  group: {
    /** `sha512-<base64 sha512 of the key>?<last 4 chars>`: never the raw key. */
    id: string;
    label?: string;
    email?: string;
  };
  clientIPAddress: string;
  development: boolean;
  request: { log: HarLog };
}
