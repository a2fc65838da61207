/**
 * Bit sets of Kafka ACL operations (org.apache.kafka.common.acl.AclOperation codes) that
 * Metadata and DescribeCluster report when asked. The gateway has no authorizer, so, as a
 * Kafka broker without one, it reports every operation that applies to the resource.
 */
const Operation = {
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
} as const;

function bits(...operations: number[]): number {
  return operations.reduce((set, op) => set | (1 << op), 0);
}

export const TOPIC_AUTHORIZED_OPERATIONS = bits(
  Operation.READ,
  Operation.WRITE,
  Operation.CREATE,
  Operation.DELETE,
  Operation.ALTER,
  Operation.DESCRIBE,
  Operation.DESCRIBE_CONFIGS,
  Operation.ALTER_CONFIGS,
);

export const CLUSTER_AUTHORIZED_OPERATIONS = bits(
  Operation.CREATE,
  Operation.ALTER,
  Operation.DESCRIBE,
  Operation.CLUSTER_ACTION,
  Operation.DESCRIBE_CONFIGS,
  Operation.ALTER_CONFIGS,
  Operation.IDEMPOTENT_WRITE,
);
