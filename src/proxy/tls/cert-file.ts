import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

/** One usable certificate: its context (built once), the names it serves and its PEM text. */
export interface LoadedCert {
  readonly context: SecureContext;
  /** DNS names from subjectAltName (CN when there is none), lower case; `*.example.com` for wildcards. */
  readonly names: readonly string[];
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** The leaf's expiry, as X509Certificate prints it. */
  readonly validTo: string;
  readonly expired: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const KEY_TYPES = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * Builds a certificate from PEM text: `certText` holds the leaf first and any chain after it,
 * `keyText` the private key (both may be the same HAProxy-style file). Throws an Error whose
 * message says what is wrong (never the key material).
 */
export function loadCertificate(certText: string, keyText: string): LoadedCert {
  const certs: string[] = [];
  for (const m of certText.matchAll(PEM_BLOCK)) if (m[1] === 'CERTIFICATE') certs.push(m[0]);
  let key: string | undefined;
  for (const m of keyText.matchAll(PEM_BLOCK)) {
    if (m[1] === 'ENCRYPTED PRIVATE KEY') throw new Error('encrypted private keys are not supported');
    if (KEY_TYPES.has(m[1] as string)) {
      key = m[0];
      break;
    }
  }
  const leafPem = certs[0];
  if (leafPem === undefined) throw new Error('no PEM certificate found');
  if (key === undefined) throw new Error('no PEM private key found');
  const leaf = new X509Certificate(leafPem);
  if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error('the private key does not match the certificate');
  const cert = `${certs.join('\n')}\n`;
  return {
    context: createSecureContext({ cert, key }),
    names: certificateNames(leaf),
    cert,
    key,
    validTo: leaf.validTo,
    expired: Date.parse(leaf.validTo) < Date.now(),
  };
}

/** subjectAltName DNS entries, else the subject CN. */
function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    // Entries with unusual characters come quoted; no SNI name can match those.
    if (entry.startsWith('DNS:') && !entry.startsWith('DNS:"')) names.push(entry.slice(4).toLowerCase());
  }
  if (names.length > 0) return names;
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) names.push(line.slice(3).toLowerCase());
  }
  return names;
}
