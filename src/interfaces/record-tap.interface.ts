/**
 * Receives each record as the writer produced it: the JSON text (UTF-8) of one ReadMe record — the HAR log of the
 * exchange and its outgoing calls, with its group — redacted, exactly as written. The dashboard keeps the recent
 * ones (src/dashboard/recent-records.ts). Called synchronously, once per record, on the thread that wrote it; it must
 * not throw, keep the Buffer as it is (never write into it), and cost next to nothing.
 */
export type RecordTap = (record: Buffer) => void;
