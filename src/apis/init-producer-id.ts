/**
 * InitProducerId (API key 22), versions 0-5, for idempotent producers (DESIGN.md section 6).
 *
 * - transactional id null, no producer id (-1/-1): a new producer id from the DynamoDB counter,
 *   epoch 0 (what Kafka's TransactionCoordinator does for idempotent producers).
 * - transactional id null with the current producer id and epoch (v3+, KIP-360): the epoch is
 *   bumped; a producer whose epoch is exhausted (32767) gets a new id at epoch 0. (Kafka hands out
 *   a new id here; a bump keeps the producer's id, so its batches of the old epoch are fenced with
 *   INVALID_PRODUCER_EPOCH. The Java client and librdkafka bump idempotent epochs themselves and
 *   never send this.) Only one of the two set: INVALID_REQUEST, as Kafka.
 * - a transactional id: refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED until transactions
 *   exist. It is the one refusal that stops every client at once instead of retrying: the Java
 *   client raises TransactionalIdAuthorizationException from initTransactions(); librdkafka treats
 *   it as fatal (rd_kafka_idemp_check_error), where anything else non-fatal is retried until
 *   init_transactions() times out; kafkajs does not retry it. COORDINATOR_NOT_AVAILABLE and
 *   NOT_COORDINATOR make clients look up the coordinator and retry forever; UNSUPPORTED_VERSION
 *   is retried by librdkafka. Redpanda with transactions disabled refuses transactional Produce
 *   with the same code. The response has no message field, so the gateway logs the reason.
 *   An empty transactional id is INVALID_REQUEST, as Kafka.
 * - producer ids cannot be allocated (DynamoDB unreachable): COORDINATOR_LOAD_IN_PROGRESS,
 *   retriable everywhere; Kafka answers the same when its id block is not there yet (it chose it
 *   over REQUEST_TIMED_OUT, which old clients treat as fatal here).
 */
import {
  initProducerIdRequest,
  initProducerIdResponse,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ProducerIdSource } from '../producers/producer-ids.js';
import { MAX_EPOCH } from '../producers/sequence-state.js';
import type { ApiHandler } from './handler.js';

const NO_PRODUCER_ID = -1n;
const NO_PRODUCER_EPOCH = -1;

export function initProducerIdHandler(ids: ProducerIdSource): ApiHandler<InitProducerIdRequest, InitProducerIdResponse> {
  return {
    request: initProducerIdRequest,
    response: initProducerIdResponse,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, context) {
      const response = initProducerIdResponse.create();
      const fail = (errorCode: number): InitProducerIdResponse => {
        response.errorCode = errorCode;
        response.producerId = NO_PRODUCER_ID;
        response.producerEpoch = NO_PRODUCER_EPOCH;
        return response;
      };

      if (request.transactionalId !== null) {
        if (request.transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
        context.log.warn(
          { transactionalId: request.transactionalId, clientId: context.clientId },
          'refusing a transactional producer (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): the gateway does not support transactions',
        );
        return fail(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      }

      const { producerId, producerEpoch } = request;
      const hasId = producerId !== NO_PRODUCER_ID;
      const hasEpoch = producerEpoch !== NO_PRODUCER_EPOCH;
      if (hasId !== hasEpoch || producerId < NO_PRODUCER_ID || producerEpoch < NO_PRODUCER_EPOCH) {
        return fail(ErrorCode.INVALID_REQUEST);
      }
      if (hasId && producerEpoch < MAX_EPOCH) {
        response.producerId = producerId;
        response.producerEpoch = producerEpoch + 1;
        return response;
      }
      try {
        response.producerId = await ids.nextProducerId();
      } catch (err) {
        context.log.warn({ err }, 'cannot allocate a producer id');
        return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      }
      response.producerEpoch = 0;
      return response;
    },
  };
}
