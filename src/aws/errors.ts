/** An AWS error type without its namespace: "com.amazonaws.kinesis.v20131202#ResourceNotFoundException" -> "ResourceNotFoundException". */
export function withoutNamespace(type: string): string {
  return type.slice(type.lastIndexOf('#') + 1);
}

/**
 * The AWS service error name of an error, from any AWS client: the SDK error's `name`, or the
 * wire's `Code`, `code` or `__type`; undefined for a plain Error and for anything not an object.
 */
export function awsErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const record = err as Record<string, unknown>;
  for (const field of ['name', 'Code', 'code', '__type']) {
    const value = record[field];
    if (typeof value === 'string' && value !== '' && value !== 'Error') return withoutNamespace(value);
  }
  return undefined;
}
