import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LimitExceededException,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { awsErrorName } from '../../src/aws/errors.js';
import { createKinesisClient, isNotFound, isThrottle, isThrottleCode } from '../../src/kinesis/client.js';

describe('kinesis client', () => {
  test('classifies SDK exceptions', () => {
    const meta = { $metadata: {}, message: 'x' };
    assert.equal(isThrottle(new ProvisionedThroughputExceededException(meta)), true);
    assert.equal(isThrottle(new LimitExceededException(meta)), true);
    assert.equal(isThrottle(new ResourceNotFoundException(meta)), false);
    assert.equal(isNotFound(new ResourceNotFoundException(meta)), true);
    assert.equal(isNotFound(new LimitExceededException(meta)), false);
  });

  test('classifies plain objects, wire types and junk', () => {
    assert.equal(isThrottle({ name: 'ProvisionedThroughputExceededException' }), true);
    assert.equal(isNotFound({ __type: 'com.amazonaws.kinesis.v20131202#ResourceNotFoundException' }), true);
    assert.equal(isThrottle(Object.assign(new Error('x'), { Code: 'LimitExceededException' })), true);
    assert.equal(awsErrorName(new Error('plain')), undefined);
    assert.equal(awsErrorName({ __type: 'com.amazonaws.dynamodb.v20120810#ResourceInUseException' }), 'ResourceInUseException');
    assert.equal(awsErrorName({ name: '', Code: 'ThrottlingException' }), 'ThrottlingException');
    for (const junk of [null, undefined, 42, 'ResourceNotFoundException', {}]) {
      assert.equal(isThrottle(junk), false);
      assert.equal(isNotFound(junk), false);
    }
    assert.equal(isThrottleCode('ProvisionedThroughputExceededException'), true);
    assert.equal(isThrottleCode('InternalFailure'), false);
    assert.equal(isThrottleCode(undefined), false);
  });

  test('uses the HTTP/1.1 handler with the given endpoint and region', async () => {
    const client = createKinesisClient({
      endpoint: 'http://127.0.0.1:1',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    try {
      assert.ok(client.config.requestHandler instanceof NodeHttpHandler);
      assert.equal(await client.config.region(), 'eu-west-1');
      const endpoint = await client.config.endpoint?.();
      assert.equal(endpoint?.hostname, '127.0.0.1');
      assert.equal(endpoint?.port, 1);
    } finally {
      client.destroy();
    }
  });
});
