import {
  apiVersionsRequest,
  apiVersionsResponse,
  type ApiVersionsRequest,
  type ApiVersionsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { Writer } from '../protocol/primitives.js';
import type { ApiHandler, ApiRegistry } from './handler.js';

/** KIP-511: client software name and version must look like this. */
const SOFTWARE_FIELD = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

function advertised(registry: ApiRegistry): ApiVersionsResponse['apiKeys'] {
  return registry.list().map((api) => ({
    apiKey: api.apiKey,
    minVersion: api.minVersion,
    maxVersion: api.maxVersion,
  }));
}

export function apiVersionsHandler(registry: ApiRegistry): ApiHandler<ApiVersionsRequest, ApiVersionsResponse> {
  return {
    request: apiVersionsRequest,
    response: apiVersionsResponse,
    minVersion: 0,
    maxVersion: 4,
    handle(request, context) {
      const response = apiVersionsResponse.create();
      response.apiKeys = advertised(registry);
      if (
        context.apiVersion >= 3 &&
        !(SOFTWARE_FIELD.test(request.clientSoftwareName) && SOFTWARE_FIELD.test(request.clientSoftwareVersion))
      ) {
        response.errorCode = ErrorCode.INVALID_REQUEST;
      }
      return response;
    },
  };
}

/**
 * The answer to an ApiVersions request of a version newer than the gateway knows: v0 with
 * UNSUPPORTED_VERSION and the full list, so the client retries with a version both know.
 */
export function apiVersionsFallback(registry: ApiRegistry): (correlationId: number) => Buffer {
  return (correlationId) => {
    const response = apiVersionsResponse.create();
    response.errorCode = ErrorCode.UNSUPPORTED_VERSION;
    response.apiKeys = advertised(registry);
    const writer = new Writer(256);
    const sizeDone = writer.int32LengthPrefix();
    writer.int32(correlationId);
    apiVersionsResponse.encode(writer, response, 0);
    sizeDone();
    return Buffer.from(writer.finish());
  };
}
