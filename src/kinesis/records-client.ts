/**
 * The calls that carry records (PutRecords, GetRecords) made without the SDK's command
 * pipeline; every other Kinesis call stays with the SDK client.
 *
 * Why: on the data path each record crosses PutRecords once and GetRecords once (the tailer
 * reads back what it wrote), and the SDK spent more of the gateway's CPU on them than the rest
 * of a produce: its JSON codec writes each record's Data as base64 in a JavaScript loop and
 * checks every base64 string it reads against a regular expression, and its middleware stack
 * (endpoint rules, user agent, retry bookkeeping, auth scheme selection) runs per call. Here
 * bodies are assembled with Buffer's native base64 and read with JSON.parse, and a call is: sign
 * with the SDK client's own SigV4 signer, send through the SDK client's request handler (same
 * agents and timeouts), parse. The endpoint, region and credentials are the SDK client's.
 *
 * Like the gateway's SDK client (maxAttempts 1), nothing is retried here: the stream writer and
 * the readers retry, and see every throttle.
 */
import { isAscii } from 'node:buffer';
import {
  GetShardIteratorCommand,
  type GetRecordsInput,
  type GetRecordsOutput,
  type GetShardIteratorInput,
  type GetShardIteratorOutput,
  type KinesisClient,
  type PutRecordsInput,
  type PutRecordsOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { HttpRequest } from '@smithy/core/protocols';
import type { RequestSigner } from '@smithy/types';
import { awsErrorName, withoutNamespace } from '../aws/errors.js';
import type { CallObserver, ObservedCall } from '../metrics/aws-observer.js';
import { bufferView } from '../protocol/primitives.js';
import { isThrottle } from './client.js';

const TARGET_PREFIX = 'Kinesis_20131202.';
/** The Kinesis operations called here (the IAM policy must allow them, as it does the SDK calls). */
export const RECORDS_CLIENT_OPERATIONS = ['PutRecords', 'GetRecords'] as const;
type RecordsOperation = (typeof RECORDS_CLIENT_OPERATIONS)[number];
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** A Kinesis error response: `name` is the service's error type, as on the SDK's exceptions. */
export class KinesisServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { readonly httpStatusCode: number };

  constructor(name: string, message: string, statusCode: number) {
    super(message);
    this.name = name;
    this.$fault = statusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: statusCode };
  }
}

/** The JSON body of a PutRecords call, each Data written by Buffer's base64 encoder, in one allocation. */
export function encodePutRecordsBody(input: PutRecordsInput): Buffer {
  const { Records: records = [], ...stream } = input;
  const head = JSON.stringify(stream);
  // Text parts (JSON, UTF-8) alternate with base64 parts (ASCII): [text, b64, text, b64, ..., text].
  const texts: string[] = [`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"Records":[`];
  const datas: string[] = [];
  records.forEach((record: PutRecordsRequestEntry, i) => {
    const { Data: data, ...fields } = record;
    const rest = JSON.stringify(fields);
    texts[texts.length - 1] += `${i > 0 ? ',' : ''}${rest.slice(0, -1)}${rest.length > 2 ? ',' : ''}"Data":"`;
    datas.push(bufferView(data ?? new Uint8Array(0)).toString('base64'));
    texts.push('"}');
  });
  texts[texts.length - 1] += ']}';
  let size = 0;
  for (const text of texts) size += Buffer.byteLength(text, 'utf8');
  for (const data of datas) size += data.length;
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  texts.forEach((text, i) => {
    at += body.write(text, at, 'utf8');
    const data = datas[i];
    if (data !== undefined) at += body.write(data, at, 'latin1');
  });
  return body;
}

/** Parses a JSON response as the SDK does: a null field is an absent one (kinesis-mock writes `"ErrorCode": null`). */
function parseJson(body: Buffer): unknown {
  return JSON.parse(jsonText(body), (_key, value: unknown) => (value === null ? undefined : value));
}

/** A JSON body as text: latin1 when it is all ASCII (base64 and sequence numbers usually are), which skips UTF-8 decoding. */
function jsonText(body: Buffer): string {
  return body.toString(isAscii(body) ? 'latin1' : 'utf8');
}

const DATA_FIELD = Buffer.from('"Data":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Where each record's base64 Data string lies in a GetRecords body, in order, or null when that
 * cannot be told by scanning (a Data value with escapes, the field written otherwise). The
 * pattern cannot occur inside another JSON string: a quote there is always escaped.
 */
function dataSpans(body: Buffer): [number, number][] | null {
  const spans: [number, number][] = [];
  for (let at = body.indexOf(DATA_FIELD); at >= 0; at = body.indexOf(DATA_FIELD, at)) {
    const start = at + DATA_FIELD.length;
    const end = body.indexOf(QUOTE, start);
    if (end < 0) return null;
    const escape = body.indexOf(BACKSLASH, start);
    if (escape >= 0 && escape < end) return null;
    spans.push([start, end]);
    at = end + 1;
  }
  return spans;
}

/** The record's Data, decoded from the body on first use (the tailer never needs its own records' data). */
function defineLazyData(record: Record<string, unknown>, body: Buffer, start: number, end: number): void {
  Object.defineProperty(record, 'Data', {
    enumerable: true,
    configurable: true,
    get() {
      const data = Buffer.from(body.toString('latin1', start, end), 'base64');
      Object.defineProperty(record, 'Data', { value: data, enumerable: true, configurable: true, writable: true });
      return data;
    },
  });
}

/**
 * A GetRecords response body as the SDK returns it: Data as bytes, arrival times as Dates. The
 * data strings (nearly all of a response) are cut out before JSON.parse and each record's Data
 * is decoded from the body only when read.
 */
export function decodeGetRecordsBody(body: Uint8Array): GetRecordsOutput {
  if (body.byteLength === 0) return { Records: [] };
  const bytes = bufferView(body);
  const spans = dataSpans(bytes);
  if (spans === null) return decodeGetRecordsBodyWhole(bytes);
  const outline: Buffer[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    outline.push(bytes.subarray(at, start));
    at = end;
  }
  outline.push(bytes.subarray(at));
  const parsed = parseJson(Buffer.concat(outline)) as { Records?: Record<string, unknown>[] };
  const records = parsed.Records ?? [];
  // Data fields not where the scan put them: read the body whole.
  if (records.length !== spans.length || records.some((r) => r.Data !== '')) return decodeGetRecordsBodyWhole(bytes);
  records.forEach((record, i) => {
    const [start, end] = spans[i] as [number, number];
    defineLazyData(record, bytes, start, end);
    arrivalAsDate(record);
  });
  return parsed as GetRecordsOutput;
}

function decodeGetRecordsBodyWhole(bytes: Buffer): GetRecordsOutput {
  const parsed = parseJson(bytes) as { Records?: Record<string, unknown>[] };
  for (const record of parsed.Records ?? []) {
    if (typeof record.Data === 'string') record.Data = Buffer.from(record.Data, 'base64');
    arrivalAsDate(record);
  }
  return parsed as GetRecordsOutput;
}

function arrivalAsDate(record: Record<string, unknown>): void {
  if (typeof record.ApproximateArrivalTimestamp === 'number') {
    record.ApproximateArrivalTimestamp = new Date(Math.round(record.ApproximateArrivalTimestamp * 1000));
  }
}

/** The error a non-2xx response stands for: its type from the body's __type or the x-amzn-errortype header. */
export function serviceError(statusCode: number, headers: Record<string, string | undefined>, body: Buffer): KinesisServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(jsonText(body)) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the status code and header still say what happened.
  }
  const typed = typeof parsed.__type === 'string' ? parsed.__type : (headers['x-amzn-errortype'] ?? '').split(':')[0];
  const name = typed !== undefined && typed !== '' ? withoutNamespace(typed) : statusCode >= 500 ? 'InternalFailure' : 'UnknownError';
  const message = parsed.message ?? parsed.Message;
  return new KinesisServiceError(name, typeof message === 'string' ? message : `Kinesis answered ${statusCode}`, statusCode);
}

interface Target {
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
}

export class KinesisRecordsClient {
  private target: Promise<{ endpoint: Target; signer: RequestSigner }> | undefined;
  private observer: CallObserver | undefined;

  constructor(private readonly sdk: KinesisClient) {}

  /** Reports every call, as observeAwsClient does for the SDK client's. */
  observe(observer: CallObserver): void {
    this.observer = observer;
  }

  putRecords(input: PutRecordsInput): Promise<PutRecordsOutput> {
    return this.call('PutRecords', input, encodePutRecordsBody(input), (body) => parseJson(body) as PutRecordsOutput);
  }

  getRecords(input: GetRecordsInput): Promise<GetRecordsOutput> {
    return this.call('GetRecords', input, Buffer.from(JSON.stringify(input)), decodeGetRecordsBody);
  }

  /** Through the SDK client: one call per reader start, not per record. */
  getShardIterator(input: GetShardIteratorInput): Promise<GetShardIteratorOutput> {
    return this.sdk.send(new GetShardIteratorCommand(input));
  }

  private async call<T>(operation: RecordsOperation, input: object, body: Buffer, parse: (body: Buffer) => T): Promise<T> {
    const started = performance.now();
    let output: T;
    try {
      output = parse(await this.send(operation, body));
    } catch (err) {
      this.report({
        operation,
        durationMs: performance.now() - started,
        outcome: isThrottle(err) ? 'throttled' : 'error',
        errorName: awsErrorName(err) ?? 'Error',
        input,
      });
      throw err;
    }
    this.report({ operation, durationMs: performance.now() - started, outcome: 'ok', input, output });
    return output;
  }

  private report(call: ObservedCall): void {
    try {
      this.observer?.(call);
    } catch {
      // Metrics never break a call.
    }
  }

  private async send(operation: RecordsOperation, body: Buffer): Promise<Buffer> {
    this.target ??= this.resolveTarget().catch((err: unknown) => {
      this.target = undefined; // resolved again on the next call (credentials or region may come later)
      throw err;
    });
    const { endpoint, signer } = await this.target;
    const request = new HttpRequest({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port !== undefined ? { port: endpoint.port } : {}),
      path: endpoint.path,
      headers: {
        host: endpoint.port !== undefined ? `${endpoint.hostname}:${endpoint.port}` : endpoint.hostname,
        'content-type': CONTENT_TYPE,
        'content-length': String(body.length),
        'x-amz-target': TARGET_PREFIX + operation,
      },
      body,
    });
    const signed = await signer.sign(request);
    const { response } = await this.sdk.config.requestHandler.handle(signed as HttpRequest);
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    if (response.statusCode < 200 || response.statusCode >= 300) throw serviceError(response.statusCode, response.headers, bytes);
    return bytes;
  }

  /**
   * The SDK client's endpoint and signer. The endpoint is found as the SDK finds it: the client's
   * endpoint setting, else one configured for the service (AWS_ENDPOINT_URL_KINESIS or the shared
   * config file), else the endpoint rules for the region.
   */
  private async resolveTarget(): Promise<{ endpoint: Target; signer: RequestSigner }> {
    const config = this.sdk.config;
    const signer = await config.signer();
    if (config.endpoint !== undefined) {
      const custom = await config.endpoint();
      const endpoint = { protocol: custom.protocol, hostname: custom.hostname, ...(custom.port !== undefined ? { port: custom.port } : {}), path: custom.path };
      return { endpoint, signer };
    }
    const configured = config.ignoreConfiguredEndpointUrls ? undefined : await config.serviceConfiguredEndpoint?.();
    const url =
      configured !== undefined
        ? new URL(configured)
        : config.endpointProvider({
            Region: await config.region(),
            UseFIPS: await config.useFipsEndpoint(),
            UseDualStack: await config.useDualstackEndpoint(),
          }).url;
    const endpoint = { protocol: url.protocol, hostname: url.hostname, ...(url.port !== '' ? { port: Number(url.port) } : {}), path: url.pathname };
    return { endpoint, signer };
  }
}
