/**
 * A control-plane URL (Marathon, Mesos) split into what may be logged and what may not: the base
 * without userinfo, query, fragment or trailing slash, and the Authorization header its userinfo
 * (or configured credentials) gives.
 */
export interface HttpEndpoint {
  /** Safe to log and to show. */
  readonly base: string;
  /** `Basic ...` or `token=<jwt>`; never logged. */
  readonly authorization?: string;
}

export type HttpCredentials = { readonly user: string; readonly password: string } | { readonly token: string };

/** URL userinfo wins over `credentials`: it is specific to that URL. `what` names the service in errors. */
export function parseHttpEndpoint(raw: string, what: string, credentials?: HttpCredentials): HttpEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`invalid ${what} URL: ${raw.replace(/\/\/[^/@]*@/, '//***@')}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${what} URL must be http or https, got ${url.protocol}`);
  }
  const authorization = url.username
    ? basic(decodeURIComponent(url.username), decodeURIComponent(url.password))
    : credentials && ('token' in credentials ? `token=${credentials.token}` : basic(credentials.user, credentials.password));
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const base = url.href.replace(/\/+$/, '');
  return authorization === undefined ? { base } : { base, authorization };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
