import { Socket, type SocketConstructorOpts } from 'node:net';

/**
 * The private slots of node's `net.Socket` behind the `onread` option (`kBuffer`, `kBufferCb`,
 * `kBufferGen`). Node 20's servers take no `onread`, so an accepted socket is switched to it by
 * filling these slots; they are found by building a socket with `onread` and reading its symbols.
 */
interface ReadSlots {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly next: symbol;
}

/** What `useUserBuffer` needs from a socket's handle (a TCP handle has it; TLS and JS streams do not). */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

function findReadSlots(): ReadSlots | undefined {
  const next = (): Uint8Array => new Uint8Array(0);
  const callback = (): boolean => true;
  // @types/node 20 leaves `onread` out of the constructor's options; node 20 takes it.
  const probe = new Socket({ onread: { buffer: next, callback } } as SocketConstructorOpts);
  const symbols = Object.getOwnPropertySymbols(probe);
  const slot = (holds: (value: unknown, symbol: symbol) => boolean) => symbols.find((symbol) => holds((probe as unknown as Record<symbol, unknown>)[symbol], symbol));
  const buffer = slot((value, symbol) => value === true && symbol.description === 'kBuffer');
  const callbackSlot = slot((value) => value === callback);
  const nextSlot = slot((value) => value === next);
  if (buffer === undefined || callbackSlot === undefined || nextSlot === undefined) return undefined;
  return { buffer, callback: callbackSlot, next: nextSlot };
}

/**
 * Read buffers for tunnels, so that a busy tunnel reads into memory it reuses instead of a fresh
 * 64 KiB allocation per read (node's default), in reads up to `size` (fewer system calls).
 *
 * Every direction starts reading into one `landing` buffer shared by all of them; what lands there
 * is copied out before it is written (the copy may wait in the writer's queue, the landing buffer
 * is read into again by any socket). A direction whose reads are large takes a buffer of its own
 * from here and writes straight from it, reading nothing more until that write is done; it gives
 * the buffer back when its reads get small again or the tunnel closes. So memory grows with the
 * tunnels moving data right now, not with the open ones. One per handler, handed to `tunnel`.
 */
export class TunnelBuffers {
  readonly landing: Buffer;
  private readonly spare: Buffer[] = [];
  private readonly slots: ReadSlots | undefined;
  private taken = 0;

  /** `size`: bytes per read at most; `keep`: buffers kept for reuse when given back. */
  constructor(
    readonly size = 256 * 1024,
    private readonly keep = 16,
  ) {
    this.landing = Buffer.allocUnsafeSlow(size);
    this.slots = findReadSlots();
  }

  /** Buffers taken and not given back: the directions moving large reads right now. */
  get lent(): number {
    return this.taken;
  }

  /** A buffer of `size` bytes for one direction alone. */
  take(): Buffer {
    this.taken += 1;
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Gives back a buffer from `take` that nothing reads into or writes from any more. */
  give(buffer: Buffer): void {
    this.taken -= 1;
    if (this.spare.length < this.keep) this.spare.push(buffer);
  }

  /**
   * Makes `socket` read into buffers, as `onread` does: each read goes to `read(bytes, buffer)`
   * (false: stop reading until `resume()`), then `next()` names the buffer for the next read; it
   * starts with `landing`. False when this socket cannot (TLS or no TCP handle, bytes already
   * read and waiting in its stream, or a node without these slots): it is left as it was.
   */
  adopt(socket: Socket, read: (bytes: number, buffer: Buffer) => boolean, next: () => Buffer): boolean {
    const { slots } = this;
    const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
    // A TLS socket's handle has `useUserBuffer` too, but it reads through TLS machinery of its own: left to node.
    const useUserBuffer = (socket as { encrypted?: boolean }).encrypted ? undefined : handle?.useUserBuffer;
    if (slots === undefined || socket.readableLength !== 0 || typeof useUserBuffer !== 'function') return false;
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[slots.buffer] = this.landing;
    fields[slots.callback] = read;
    fields[slots.next] = next;
    useUserBuffer.call(handle, this.landing);
    return true;
  }
}
