import { pino, type Logger } from 'pino';

/** Structured JSON logs, one line per event, to stdout. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'kafka-kinesis-gateway', pid: process.pid } });
}
