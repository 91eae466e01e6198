import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { normalizeHost } from '../../routing/host-match.js';
import { loadCertificate, type LoadedCert } from './cert-file.js';

export interface CertStoreOptions {
  /** Directory of `name.pem` (cert + key) files and `name.crt` + `name.key` pairs; optional. */
  readonly dir?: string;
  readonly logger: Logger;
  /** How often the files are checked for changes (mtime, size, inode). Default 2000 ms. */
  readonly pollIntervalMs?: number;
}

export interface CertFileStatus {
  readonly file: string;
  /** Names served from this file (empty while it has never loaded). */
  readonly names: readonly string[];
  readonly validTo?: string;
  /** Why the file's current content is not in use; a previous good version may still be served. */
  readonly error?: string;
}

export interface CertStoreStatus {
  /** The file serving unknown names and clients without SNI. */
  readonly default?: string;
  readonly files: readonly CertFileStatus[];
}

/** One certificate source: a `.pem` file, a `.crt` with its `.key`, or an extra (HAProxy-style) file. */
interface Source {
  readonly file: string;
  readonly keyFile?: string;
  readonly fromDir: boolean;
  /** `default.pem` / `default.crt` in the directory. */
  readonly isDefault?: boolean;
}

interface Entry extends Source {
  /** Stat fingerprint of the file(s) last read; unchanged means nothing to do. */
  signature: string;
  good?: LoadedCert;
  error?: string;
}

/** What the SNI callback reads: built whole after a change and swapped by one assignment. */
interface Index {
  readonly exact: ReadonlyMap<string, LoadedCert>;
  /** `*.example.com` certificates by `example.com`. */
  readonly wildcard: ReadonlyMap<string, LoadedCert>;
  readonly fallback?: LoadedCert;
  readonly fallbackFile?: string;
}

/**
 * The certificates of the HTTPS entry point, chosen by SNI: exact name, then a wildcard for the
 * first label, then the default (`default.pem` / `default.crt`, else the first file by name).
 * Files are polled for changes: a new, changed or removed file takes effect on the next poll; a
 * bad file is logged once per change and skipped, and its previous good version stays in use.
 * Contexts are built once per file version, never per handshake.
 */
export class CertStore {
  private readonly dir: string | undefined;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private entries = new Map<string, Entry>();
  private extraFiles: readonly string[] = [];
  private dirError: string | undefined;
  private index: Index = { exact: new Map(), wildcard: new Map() };
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private changes = 0;

  constructor(opts: CertStoreOptions) {
    this.dir = opts.dir;
    this.logger = opts.logger;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
  }

  /** Increases whenever the served certificates change (a cheap check for `defaultCredentials` users). */
  get version(): number {
    return this.changes;
  }

  /** Loads the files once, then keeps polling them until `close`. */
  async start(): Promise<void> {
    await this.reload();
    this.schedulePoll();
  }

  /** Re-reads what changed; resolves once the new state is live. Never rejects. */
  reload(): Promise<void> {
    this.queue = this.queue.then(() => this.scan());
    return this.queue;
  }

  /** Certificate files named by app labels (`table.certificates`); reloads when the list changes. */
  setExtraFiles(paths: readonly string[]): void {
    if (paths.length === this.extraFiles.length && paths.every((p, i) => p === this.extraFiles[i])) return;
    this.extraFiles = [...paths];
    void this.reload();
  }

  /** For `tls.createServer({ SNICallback })`. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };

  /** The context for a server name: exact, wildcard, then default; undefined when there is no certificate at all. */
  contextFor(servername: string | undefined): SecureContext | undefined {
    const index = this.index;
    const name = normalizeHost(servername);
    if (name !== undefined) {
      const exact = index.exact.get(name);
      if (exact) return exact.context;
      const dot = name.indexOf('.');
      const wildcard = dot > 0 ? index.wildcard.get(name.slice(dot + 1)) : undefined;
      if (wildcard) return wildcard.context;
    }
    return index.fallback?.context;
  }

  /** PEM of the default certificate, for the server's own context (clients that send no SNI). */
  defaultCredentials(): { readonly cert: string; readonly key: string } | undefined {
    return this.index.fallback;
  }

  status(): CertStoreStatus {
    const files: CertFileStatus[] = [];
    if (this.dirError !== undefined && this.dir !== undefined) files.push({ file: this.dir, names: [], error: this.dirError });
    for (const entry of this.entries.values()) {
      files.push({
        file: entry.file,
        names: entry.good?.names ?? [],
        ...(entry.good && { validTo: entry.good.validTo }),
        ...(entry.error !== undefined && { error: entry.error }),
      });
    }
    return { ...(this.index.fallbackFile !== undefined && { default: this.index.fallbackFile }), files };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.reload().then(() => this.schedulePoll());
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  private async scan(): Promise<void> {
    try {
      const fromDir = await this.dirSources();
      const next = new Map<string, Entry>();
      if (fromDir === undefined) {
        // The directory is unreadable (being replaced, permissions): keep what it served.
        for (const entry of this.entries.values()) if (entry.fromDir) next.set(entry.file, entry);
      }
      for (const source of [...(fromDir ?? []), ...this.extraFiles.map((file) => ({ file, fromDir: false }))]) {
        if (!next.has(source.file)) next.set(source.file, await this.refresh(source, this.entries.get(source.file)));
      }
      let changed = next.size !== this.entries.size;
      for (const [file, entry] of this.entries) {
        if (next.get(file) !== entry) changed = true;
        if (!next.has(file)) this.logger.info({ file }, 'certificate file removed');
      }
      this.entries = next;
      if (changed) this.rebuildIndex();
    } catch (err) {
      // Only a bug gets here; the previous certificates stay in use.
      this.logger.error({ err }, 'certificate reload failed');
    }
  }

  /** The directory's certificate files in name order; undefined when it cannot be read. */
  private async dirSources(): Promise<Source[] | undefined> {
    if (this.dir === undefined) return [];
    let names: string[];
    try {
      names = (await readdir(this.dir)).sort();
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.dirError) this.logger.warn({ dir: this.dir, err: message }, 'cannot read the certificate directory; keeping the certificates loaded before');
      this.dirError = message;
      return undefined;
    }
    this.dirError = undefined;
    const sources: Source[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = join(this.dir, name);
      if (name.endsWith('.pem')) sources.push({ file, fromDir: true, isDefault: name === 'default.pem' });
      else if (name.endsWith('.crt')) sources.push({ file, keyFile: `${file.slice(0, -4)}.key`, fromDir: true, isDefault: name === 'default.crt' });
    }
    return sources;
  }

  /** The entry for `source` as it is now: the previous object itself when nothing changed. */
  private async refresh(source: Source, previous: Entry | undefined): Promise<Entry> {
    const signature = `${await fingerprint(source.file)}|${source.keyFile === undefined ? '' : await fingerprint(source.keyFile)}`;
    if (previous !== undefined && previous.signature === signature) return previous;
    const entry: Entry = { ...source, signature };
    if (signature.startsWith(MISSING)) {
      // A file that is gone serves nothing any more (an extra file named by a label, or one
      // removed between the directory listing and now).
      entry.error = 'file not found';
      this.logger.warn({ file: source.file }, 'certificate file not found');
      return entry;
    }
    if (previous?.good) entry.good = previous.good;
    try {
      if (source.keyFile !== undefined && signature.endsWith(MISSING)) throw new Error(`missing key file ${source.keyFile}`);
      const certText = await readFile(source.file, 'utf8');
      const keyText = source.keyFile === undefined ? certText : await readFile(source.keyFile, 'utf8');
      entry.good = loadCertificate(certText, keyText);
      this.logger.info({ file: source.file, names: entry.good.names, validTo: entry.good.validTo }, 'certificate loaded');
      if (entry.good.expired) this.logger.warn({ file: source.file, validTo: entry.good.validTo }, 'certificate has expired');
    } catch (err) {
      entry.error = (err as Error).message;
      this.logger.warn({ file: source.file, err: entry.error, keepingPrevious: entry.good !== undefined }, 'certificate file skipped');
    }
    return entry;
  }

  private rebuildIndex(): void {
    const exact = new Map<string, LoadedCert>();
    const wildcard = new Map<string, LoadedCert>();
    let fallback: Entry | undefined;
    // Directory files come first, in name order: for a name served twice, the first file wins.
    for (const entry of this.entries.values()) {
      const cert = entry.good;
      if (cert === undefined) continue;
      if (fallback === undefined || (entry.isDefault && !fallback.isDefault)) fallback = entry;
      for (const name of cert.names) {
        if (name.startsWith('*.')) {
          if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), cert);
        } else if (!exact.has(name)) {
          exact.set(name, cert);
        }
      }
    }
    this.index = { exact, wildcard, ...(fallback?.good && { fallback: fallback.good, fallbackFile: fallback.file }) };
    this.changes++;
  }
}

const MISSING = 'missing';

/** Inode, size and mtime: any replacement or rewrite changes it. `missing` when the file is not there. */
async function fingerprint(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return s.isFile() ? `${s.ino}:${s.size}:${s.mtimeMs}` : MISSING;
  } catch {
    return MISSING;
  }
}
