import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { H1Error } from './h1-response.js';

/** What the body sender tells the request it belongs to. */
export interface BodyOwner {
  /** Counts a chunk written to the backend. */
  sent(chunk: Buffer): void;
  /** The whole body is written. */
  finished(): void;
  /** The body stream failed (the client aborted its upload). */
  failed(err: Error): void;
}

/**
 * Streams a request body to a backend connection: as read when the request has a Content-Length
 * (node's parser has checked it), chunked otherwise. The body is paused while the socket's buffer
 * is full and resumed on `drained`.
 */
export class RequestBodySender {
  private waiting = false;
  private done = false;

  constructor(
    private readonly body: Readable,
    private readonly socket: Socket,
    private readonly chunked: boolean,
    private readonly owner: BodyOwner,
  ) {
    body.on('data', this.onData);
    body.on('end', this.onEnd);
    body.on('error', this.onError);
    body.on('close', this.onClose);
  }

  /** The backend connection can take more. */
  drained(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.body.resume();
  }

  /** The request is over (answered, failed or aborted): the body is no longer read. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.body.off('data', this.onData);
    this.body.off('end', this.onEnd);
    this.body.off('error', this.onError);
    this.body.off('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    const socket = this.socket;
    let ok: boolean;
    if (this.chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = socket.write(chunk);
    }
    this.owner.sent(chunk);
    if (!ok && !this.waiting) {
      this.waiting = true;
      this.body.pause();
    }
  };

  private readonly onEnd = (): void => {
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.stop();
    this.owner.finished();
  };

  private readonly onError = (err: Error): void => {
    this.stop();
    this.owner.failed(new H1Error('BATON_REQUEST_BODY', `the request body failed: ${err.message}`));
  };

  /** Closed before its end without an error: the client went away mid-upload. */
  private readonly onClose = (): void => {
    if (this.done) return;
    this.stop();
    this.owner.failed(new H1Error('BATON_REQUEST_BODY', 'the client closed the request body before its end'));
  };
}
