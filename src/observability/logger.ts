import { pino, type DestinationStream, type Logger } from 'pino';

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { name: 'baton' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
