import { Inject, Injectable } from '@nestjs/common';
import { arch, platform, release } from 'node:os';
import type { CapturedExchange } from '../capture/captured-exchange';
import type { HarCreator, HarEntry } from '../interfaces/har.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';
import { METRICS_RESOLVED_OPTIONS, PACKAGE_NAME, PACKAGE_VERSION } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { maskApiKey } from '../redact/mask';
import { Redactor } from '../redact/redactor';
import { buildHarEntry } from './har-entry';

export const HAR_CREATOR: HarCreator = {
  name: 'readme-metrics (node)',
  version: PACKAGE_VERSION,
  comment: `${arch()}-${platform()}${release()}/${process.versions.node} ${PACKAGE_NAME}`,
};

/** Turns captured exchanges into ReadMe Metrics records: HAR 1.2, redacted, group id masked. */
@Injectable()
export class RecordFormatter {
  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly redactor: Redactor,
  ) {}

  format(x: CapturedExchange): MetricsRecord {
    const { group } = x;
    const entries = [this.entry(x), ...(x.outgoing ?? []).map((call) => this.entry({ ...call, parentId: x.id }))];
    return {
      _id: x.id,
      _version: 3,
      group: {
        id: maskApiKey(group.apiKey),
        ...(group.label !== undefined && { label: group.label }),
        ...(group.email !== undefined && { email: group.email }),
      },
      clientIPAddress: x.clientIp,
      development: this.options.developmentMode,
      request: { log: { version: '1.2', creator: HAR_CREATOR, entries } },
    };
  }

  private entry(x: CapturedExchange): HarEntry {
    const entry = buildHarEntry(x, this.redactor, this.options);
    if (x.errors) {
      const echo = (text: string) => this.redactor.echo(text, x.url, entry.request.url);
      entry._errors = x.errors.map((e) => ({
        ...e,
        message: echo(e.message),
        rootErrorMessage: echo(e.rootErrorMessage),
        ...(e.stackTrace !== undefined && { stackTrace: echo(e.stackTrace) }),
      }));
    }
    if (x.parentId !== undefined) {
      entry._parentId = x.parentId;
      entry._outgoing = true;
    }
    if (x.failure) entry._error = x.failure;
    return entry;
  }
}
