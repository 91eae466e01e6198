import { pino, type Logger } from 'pino';
import { RateLimitedLog } from './rate-limited-log.js';

/**
 * One access log line: a request, a tunnel (TCP, TLS passthrough, WebSocket) or a UDP flow.
 * Absent fields are left out of the line. Never a header value other than Host: no
 * Authorization, no cookie; `path` never carries the query string.
 */
export interface AccessLogEntry {
  /** Route id `appId:portIndex`; absent when no route took it. */
  readonly route: string | undefined;
  readonly app: string | undefined;
  /** Backend address `host:port` (of the last attempt). */
  readonly backend: string | undefined;
  readonly method?: string;
  /** Host header (TLS passthrough: the SNI name). */
  readonly host?: string;
  /** Request path without the query string. */
  readonly path?: string;
  /** `http/1.1`, `h2`, `h2c`, `websocket`, `tcp`, `tls-passthrough`, `udp`. */
  readonly protocol: string;
  /** HTTP status sent (499: the client left before a response began); absent for tunnels and flows. */
  readonly status?: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The `x-baton-error` code, when baton answered with one or the request failed with one. */
  readonly error: string | undefined;
  readonly client: string;
}

export interface AccessLogOptions {
  /** `stdout`, `stderr` or a file path (appended to); `off` is no AccessLog at all. */
  readonly target: string;
  /** Share of lines written, in (0, 1]; errors and 5xx are always written. */
  readonly sample: number;
  /** The application logger, for the access log's own trouble (a file that cannot be written). */
  readonly logger: Logger;
}

/** The buffer's cap: lines beyond it (a destination stuck for a long time) are dropped, not queued without limit. */
const MAX_BUFFER = 16 * 1024 * 1024;
/**
 * Lines wait in the buffer until there are more than `min` bytes (or the periodic flush); each
 * write holds whole lines, at most `max` bytes (longer lines alone). A file is opened for append,
 * so the writes of several processes (node:cluster workers) never split each other's lines. On
 * stdout or stderr, a pipe more often than not and shared with the application log, writes stay
 * within PIPE_BUF (4096 bytes on Linux) so that the kernel keeps each one whole too.
 */
const FILE_WRITES = { min: 4096, max: 16_384 } as const;
const PIPE_WRITES = { min: 2048, max: 4096 } as const;
const FLUSH_EVERY_MS = 1000;

/**
 * The access log: its own pino instance (not the application logger) over an asynchronous
 * destination, so a slow disk never stalls the proxy: lines are buffered and written in the
 * background at least every second; a destination that cannot keep up loses lines past a 16 MiB
 * buffer (logged, rate limited) instead of growing memory. Each line is JSON: `"log":"access"`, `time`
 * (ms since the epoch) and the fields of `AccessLogEntry`.
 *
 * The data path holds `AccessLog | null`: with the log off, a request costs one null test.
 */
export class AccessLog {
  private readonly stream: ReturnType<typeof pino.destination>;
  private readonly lines: Logger;
  private readonly sample: number;
  private readonly opened: Promise<void>;
  private closing: Promise<void> | undefined;

  /** An access log to `options.target`, or null when it is `off`. */
  static open(options: AccessLogOptions): AccessLog | null {
    return options.target === 'off' ? null : new AccessLog(options);
  }

  private constructor({ target, sample, logger }: AccessLogOptions) {
    this.sample = sample;
    const dest = target === 'stdout' ? 1 : target === 'stderr' ? 2 : target;
    const writes = typeof dest === 'number' ? PIPE_WRITES : FILE_WRITES;
    this.stream = pino.destination({ dest, sync: false, minLength: writes.min, maxWrite: writes.max, maxLength: MAX_BUFFER, periodicFlush: FLUSH_EVERY_MS });
    const warnings = new RateLimitedLog(logger);
    this.opened = new Promise<void>((resolve, reject) => {
      this.stream.once('ready', resolve);
      this.stream.once('error', reject);
    });
    // A destination that could not be opened is reported by `ready()`.
    this.opened.catch(() => undefined);
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      warnings.warn('access-log-error', { target, code: err.code, err: err.message }, 'access log cannot be written');
    });
    this.stream.on('drop', () => {
      warnings.warn('access-log-drop', { target, bufferBytes: MAX_BUFFER }, 'access log lines dropped: the destination does not keep up');
    });
    // No level, pid or host name: `"log":"access"` in their place tells these lines from the
    // application's when both go to stdout.
    this.lines = pino({ base: null, formatters: { level: () => ({ log: 'access' }) } }, this.stream);
  }

  /** Resolves once the destination is open; rejects when it cannot be (a directory that is not there, no permission). */
  ready(): Promise<void> {
    return this.opened;
  }

  /**
   * Whether the next line is to be written: every one at a sample of 1 (without drawing a random
   * number), else that share of them; `failed` ones (an error code or a 5xx) always.
   */
  wants(failed: boolean): boolean {
    return this.sample >= 1 || failed || Math.random() < this.sample;
  }

  write(entry: AccessLogEntry): void {
    // Tunnels closed by the shutdown end after the log did.
    if (this.closing === undefined) this.lines.info(entry);
  }

  /** Writes what is buffered and closes the destination (stdout and stderr stay open). */
  close(): Promise<void> {
    this.closing ??= this.opened.then(
      () =>
        new Promise<void>((resolve) => {
          this.stream.once('close', resolve);
          // A write that fails now is reported by the 'error' listener above; closing goes on.
          this.stream.once('error', () => resolve());
          this.stream.end();
        }),
      () => undefined,
    );
    return this.closing;
  }
}
