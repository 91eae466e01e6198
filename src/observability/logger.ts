import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Paths pino censors wherever they appear in a log object. The Marathon client already strips
 * credentials from URLs; this is the net under it, so a credential never reaches a log line.
 */
const REDACT = [
  'password',
  'token',
  'authorization',
  'credentials',
  '*.password',
  '*.token',
  '*.authorization',
  '*.credentials',
  'headers.authorization',
  'req.headers.authorization',
  'marathonCredentials',
  'marathonToken',
  'adminToken',
  '*.marathonCredentials',
  '*.marathonToken',
  '*.adminToken',
];

/**
 * The process logger: JSON lines on stdout (or `destination`), or, with `pretty`, coloured lines
 * for a terminal (formatted in-process, synchronously: a terminal is not a hot path's sink).
 */
export function createLogger(level: string, output: 'json' | 'pretty' | DestinationStream = 'json'): Logger {
  const options = { level, base: { name: 'baton' }, redact: { paths: REDACT, censor: '[redacted]' } };
  if (output === 'json') return pino(options);
  if (output === 'pretty') return pino(options, pretty({ colorize: process.stdout.isTTY, sync: true }));
  return pino(options, output);
}
