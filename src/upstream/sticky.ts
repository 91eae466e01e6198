/** The sticky-session cookie: it names a backend by its opaque id, never by its address. */
export const STICKY_COOKIE = 'baton_sticky';

const NAME_LENGTH = STICKY_COOKIE.length;
const EQUALS = 0x3d;
const SEMICOLON = 0x3b;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;

/**
 * The backend id in a raw Cookie header value (`a=1; baton_sticky=abc`), or undefined. Scans for
 * the name instead of parsing every cookie; allocates only the value it returns. With several
 * `baton_sticky` cookies (set by routes on different paths) the first wins: browsers send the
 * cookie of the longest matching path first.
 */
export function readStickyCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let at = header.indexOf(STICKY_COOKIE);
  while (at !== -1) {
    const after = at + NAME_LENGTH;
    if (startsCookie(header, at) && header.charCodeAt(after) === EQUALS) {
      let start = after + 1;
      let end = header.indexOf(';', start);
      if (end === -1) end = header.length;
      while (end > start && isBlank(header.charCodeAt(end - 1))) end--;
      if (end - start >= 2 && header.charCodeAt(start) === QUOTE && header.charCodeAt(end - 1) === QUOTE) {
        start++;
        end--;
      }
      return end > start ? header.slice(start, end) : undefined;
    }
    at = header.indexOf(STICKY_COOKIE, after);
  }
  return undefined;
}

/** The name at `at` begins a cookie: it opens the header or follows a `;` and blanks (not `xbaton_sticky`). */
function startsCookie(header: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && isBlank(header.charCodeAt(i))) i--;
  return i < 0 || header.charCodeAt(i) === SEMICOLON;
}

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** A cookie path attribute needs no quoting: printable ASCII without `;`, from a `/`. */
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;

/**
 * The Set-Cookie value that keeps a client on the backend with id `backendId` (`Backend.id`): a
 * session cookie, `Secure` over TLS. `path` scopes it (a route's path prefix keeps two sticky
 * routes of one host from overwriting each other's cookie); a path unfit for the attribute falls
 * back to `/`.
 */
export function stickySetCookie(backendId: string, secure: boolean, path = '/'): string {
  const scope = path === '/' || !COOKIE_PATH.test(path) ? '/' : path;
  return `${STICKY_COOKIE}=${backendId}; Path=${scope}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
