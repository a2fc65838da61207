/**
 * The SDK's awsJson1.1 protocol for Kinesis, with the two calls that carry records encoded
 * natively. The SDK writes each record's Data as base64 in a JavaScript loop and checks every
 * base64 string it reads against a regular expression: per megabyte of records that costs the
 * gateway about as much CPU as the rest of a produce or a fetch. Here PutRecords bodies are
 * assembled from Buffer.toString('base64') and GetRecords responses are read with JSON.parse and
 * Buffer.from(..., 'base64'). Everything else (endpoints, signing, retries, errors, the other
 * operations) stays the SDK's: error responses and other operations go to the parent class.
 */
import type { GetRecordsOutput, PutRecordsInput, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { AwsJson1_1Protocol } from '@aws-sdk/core/protocols';
import { collectBody } from '@smithy/core/protocols';
import type {
  EndpointBearer,
  HandlerExecutionContext,
  HttpRequest,
  HttpResponse,
  MetadataBearer,
  OperationSchema,
  SerdeFunctions,
} from '@smithy/types';

/** A GetRecords record as it is on the wire. */
interface WireRecord {
  Data?: string;
  ApproximateArrivalTimestamp?: number;
  [field: string]: unknown;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The JSON body of a PutRecords call, with each Data written by Buffer's base64 encoder. */
export function encodePutRecordsBody(input: PutRecordsInput): Buffer {
  const { Records: records = [], ...stream } = input;
  const head = JSON.stringify(stream);
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"Records":[`)];
  records.forEach((record: PutRecordsRequestEntry, i) => {
    const { Data: data, ...fields } = record;
    const rest = JSON.stringify(fields);
    parts.push(Buffer.from(`${i > 0 ? ',' : ''}${rest.slice(0, -1)}${rest.length > 2 ? ',' : ''}"Data":"`));
    parts.push(Buffer.from(asBuffer(data ?? new Uint8Array(0)).toString('base64'), 'latin1'));
    parts.push(Buffer.from('"}'));
  });
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
}

/** A GetRecords response body as the SDK would return it: Data as bytes, arrival times as Dates. */
export function decodeGetRecordsBody(body: Uint8Array): GetRecordsOutput {
  if (body.byteLength === 0) return { Records: [] };
  const parsed = JSON.parse(asBuffer(body).toString('utf8')) as { Records?: WireRecord[] } & Record<string, unknown>;
  for (const record of parsed.Records ?? []) {
    const converted = record as Record<string, unknown>;
    if (typeof record.Data === 'string') converted.Data = Buffer.from(record.Data, 'base64');
    if (typeof record.ApproximateArrivalTimestamp === 'number') {
      converted.ApproximateArrivalTimestamp = new Date(Math.round(record.ApproximateArrivalTimestamp * 1000));
    }
  }
  return parsed as GetRecordsOutput;
}

export class KinesisRecordsProtocol extends AwsJson1_1Protocol {
  override async serializeRequest<Input extends object>(
    operationSchema: OperationSchema,
    input: Input,
    context: HandlerExecutionContext & SerdeFunctions & EndpointBearer,
  ): Promise<HttpRequest> {
    if (operationSchema.name !== 'PutRecords') return super.serializeRequest(operationSchema, input, context);
    const { Records: records, ...stream } = input as PutRecordsInput;
    // The parent sets the endpoint and headers from the small part; the body is replaced whole.
    const request = await super.serializeRequest(operationSchema, stream, context);
    request.body = encodePutRecordsBody({ ...stream, Records: records ?? [] });
    return request;
  }

  override async deserializeResponse<Output extends MetadataBearer>(
    operationSchema: OperationSchema,
    context: HandlerExecutionContext & SerdeFunctions,
    response: HttpResponse,
  ): Promise<Output> {
    if (operationSchema.name !== 'GetRecords' || this.isErrorResponse(response.statusCode)) {
      return super.deserializeResponse(operationSchema, context, response);
    }
    const output = decodeGetRecordsBody(await collectBody(response.body, context)) as GetRecordsOutput & MetadataBearer;
    output.$metadata = this.deserializeMetadata(response);
    return output as unknown as Output;
  }
}
