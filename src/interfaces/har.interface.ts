/** The parts of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) this package writes. */
export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarPostParam {
  name: string;
  value?: string;
  fileName?: string;
  contentType?: string;
}

export interface HarPostData {
  mimeType: string;
  text?: string;
  params?: HarPostParam[];
  comment?: string;
}

export interface HarRequest {
  method: string;
  url: string;
  httpVersion: string;
  cookies: HarNameValue[];
  headers: HarNameValue[];
  queryString: HarNameValue[];
  postData?: HarPostData;
  headersSize: number;
  bodySize: number;
}

export interface HarContent {
  size: number;
  mimeType: string;
  text?: string;
  encoding?: string;
  comment?: string;
}

export interface HarResponse {
  status: number;
  statusText: string;
  httpVersion: string;
  cookies: HarNameValue[];
  headers: HarNameValue[];
  content: HarContent;
  redirectURL: string;
  headersSize: number;
  bodySize: number;
  comment?: string;
}

export interface HarEntry {
  /**
   * Origin and route template (`https://api.example.com/v1/users/:id`), as ReadMe's Node SDK builds it, so ReadMe
   * groups an endpoint's requests; the URL for requests no route matched. Not in `HarFileTransport` files (which
   * have no `pages`): there it is `_pageref`.
   */
  pageref?: string;
  startedDateTime: string;
  time: number;
  request: HarRequest;
  response: HarResponse;
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  _serviceVersion?: string;
  _tags?: string[];
  [custom: `_${string}`]: unknown;
}

export interface HarCreator {
  name: string;
  version: string;
  comment?: string;
}

export interface HarLog {
  version: '1.2';
  creator: HarCreator;
  entries: HarEntry[];
}
