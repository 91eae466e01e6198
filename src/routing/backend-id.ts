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
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeUInt32BE(h1 >>> 0, 0);
  bytes.writeUInt32BE(h2 >>> 0, 4);
  return bytes.toString('base64url');
}
