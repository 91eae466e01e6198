/**
 * A backend's opaque id: 64 bits of a hash of its task id and port, 11 URL- and cookie-safe
 * characters. Stable for as long as the task runs, and it never shows the backend's address, so
 * a sticky-session cookie can carry it. Not cryptographic (it is computed for every backend on
 * every table build): task ids carry a random UUID, which is what makes the id unguessable.
 */
export function backendId(taskId: string, port: number): string {
  const text = `${taskId}\u0000${port}`;
  // Two 32-bit multiply-xorshift lanes (cyrb53's construction), kept whole: 64 bits.
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return base64url64(h1 >>> 0, h2 >>> 0);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The 8 big-endian bytes of `hi` and `lo` in base64url without padding, as Buffer's `base64url`
 * would write them, without a Buffer per id (a full build makes one per backend).
 */
function base64url64(hi: number, lo: number): string {
  // Bits 63..0 in 6-bit groups from the top; the last group is the final 4 bits, shifted left by 2.
  const a = Math.floor(hi / 256); // bytes 0-2 of hi (24 bits)
  const b = ((hi & 0xff) << 16) | Math.floor(lo / 65536); // byte 3 of hi, bytes 0-1 of lo
  const c = lo & 0xffff; // bytes 2-3 of lo: 16 bits -> 3 chars (with 2 zero bits)
  return (
    ALPHABET[(a >>> 18) & 63]! +
    ALPHABET[(a >>> 12) & 63]! +
    ALPHABET[(a >>> 6) & 63]! +
    ALPHABET[a & 63]! +
    ALPHABET[(b >>> 18) & 63]! +
    ALPHABET[(b >>> 12) & 63]! +
    ALPHABET[(b >>> 6) & 63]! +
    ALPHABET[b & 63]! +
    ALPHABET[(c >>> 10) & 63]! +
    ALPHABET[(c >>> 4) & 63]! +
    ALPHABET[(c << 2) & 63]!
  );
}
