import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { EventSource, type EventSourceFetchInit, type FetchLike, type FetchLikeResponse } from 'eventsource';
import type { Dispatcher } from 'undici';
import { httpGet, type MarathonEndpoint } from './http.js';

/**
 * One connection to Marathon's `/v2/events`, through the `eventsource` package with our own
 * `fetch`: exact Accept header, credentials, redirects followed by hand, and an idle timer that
 * every body chunk resets (Marathon's heartbeat is a lone `\r` then `\n` every 10 s). It never
 * reconnects by itself: on any failure it closes and reports once, and the client decides.
 */

export interface StreamHandlers {
  /** The stream is open. `leader` comes from `X-Marathon-Leader` or the redirect target. */
  onOpen(leader: string | undefined): void;
  onEvent(eventType: string, data: string): void;
  /** The stream failed or ended. Called at most once, and never after `close()`. */
  onClose(reason: string): void;
}

export interface EventStreamOptions {
  readonly endpoint: MarathonEndpoint;
  readonly dispatcher: Dispatcher;
  /** No byte for this long (heartbeats included) = dead stream. */
  readonly idleTimeoutMs: number;
}

/** What eventsource sends itself, and the only value Marathon accepts: anything else gets 405. */
const EVENT_STREAM_ACCEPT = 'text/event-stream';

export class EventStream {
  private readonly opts: EventStreamOptions;
  private readonly handlers: StreamHandlers;
  private readonly source: MessageSource;
  private idleTimer: NodeJS.Timeout | undefined;
  private leader: string | undefined;
  private closed = false;

  constructor(opts: EventStreamOptions, handlers: StreamHandlers) {
    this.opts = opts;
    this.handlers = handlers;
    this.source = new MessageSource(`${opts.endpoint.base}/v2/events`, this.fetch, (type, data) => {
      if (!this.closed) handlers.onEvent(type, data);
    });
    this.source.onopen = () => {
      if (!this.closed) handlers.onOpen(this.leader);
    };
    // eventsource reports every failure here: refused, non-200, wrong content type, end of body.
    this.source.onerror = (event) => this.fail(event.message ?? 'stream ended');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.source.close();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers.onClose(reason);
  }

  private readonly fetch: FetchLike = async (url: string | URL, init: EventSourceFetchInit): Promise<FetchLikeResponse> => {
    const { endpoint, dispatcher, idleTimeoutMs } = this.opts;
    const res = await httpGet(dispatcher, String(url), {
      accept: EVENT_STREAM_ACCEPT,
      signal: init.signal as AbortSignal,
      headersTimeoutMs: idleTimeoutMs,
      bodyTimeoutMs: 0,
      ...(endpoint.authorization !== undefined && { authorization: endpoint.authorization }),
    });
    if (this.closed) {
      res.body.destroy();
      throw new DOMException('event stream closed', 'AbortError');
    }
    const contentType = header(res.headers, 'content-type') ?? '';
    const isStream = res.statusCode === 200 && contentType.startsWith('text/event-stream');
    if (isStream) {
      this.leader = header(res.headers, 'x-marathon-leader') ?? (res.redirected ? new URL(res.url).origin : undefined);
      this.idleTimer = setTimeout(() => this.fail(`no data for ${idleTimeoutMs} ms`), idleTimeoutMs);
    } else {
      // eventsource fails such a response without reading it; free the connection here.
      await res.body.dump();
    }
    return {
      status: res.statusCode,
      url: res.url,
      redirected: res.redirected,
      headers: { get: (name: string) => header(res.headers, name) ?? null },
      body: isStream ? this.resettingIdle(res.body) : null,
    };
  };

  /** The body as a web stream for eventsource; every chunk, heartbeat bytes included, resets the idle timer. */
  private resettingIdle(body: Readable): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        body.on('data', (chunk: Buffer) => {
          this.idleTimer?.refresh();
          controller.enqueue(chunk);
        });
        body.on('end', () => controller.close());
        body.on('error', (err) => controller.error(err));
      },
      cancel: () => {
        body.destroy();
      },
    });
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * eventsource dispatches each message under its `event:` name, and Marathon has dozens of them:
 * intercepting `dispatchEvent` hands every message to one callback without one listener per type.
 */
class MessageSource extends EventSource {
  private readonly onMessage: (eventType: string, data: string) => void;

  constructor(url: string, fetch: FetchLike, onMessage: (eventType: string, data: string) => void) {
    super(url, { fetch });
    this.onMessage = onMessage;
  }

  override dispatchEvent(event: Event): boolean {
    if (event instanceof MessageEvent) {
      this.onMessage(event.type, String(event.data));
      return true;
    }
    return super.dispatchEvent(event);
  }
}
