import { mkdtempSync, rmSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CertStore } from '../../../src/proxy/tls/cert-store.js';
import { makeCert, type TestCert } from '../../fixtures/tls/make-certs.js';
import { waitFor } from '../../helpers/wait-for.js';

// Made once for the file: a handful of openssl runs.
const exact = makeCert('exact', ['www.example.test']);
const wildcard = makeCert('wildcard', ['*.example.test']);
const fallback = makeCert('fallback');
const other = makeCert('other', ['other.test', 'www.example.test']);
const replacement = makeCert('replacement', ['www.example.test']);

let dir: string;
let store: CertStore | undefined;
let server: tls.Server | undefined;
let logs: { level: number; msg: string; file?: string }[];

function logger() {
  return pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
}

function write(name: string, text: string): void {
  // Written aside and renamed in, as certificate tooling does, so a poll never sees half a file.
  const temp = join(dir, `.${name}.tmp`);
  writeFileSync(temp, text);
  renameSync(temp, join(dir, name));
}

async function startStore(extra: Partial<ConstructorParameters<typeof CertStore>[0]> = {}): Promise<CertStore> {
  store = new CertStore({ dir, logger: logger(), pollIntervalMs: 20, ...extra });
  await store.start();
  const s = store;
  server = tls.createServer({ SNICallback: s.sniCallback });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return s;
}

/** The CN of the certificate the store's SNI callback serves for `servername`, via a real handshake. */
async function servedCN(servername: string): Promise<string> {
  const port = (server?.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    socket.on('error', reject);
  });
}

beforeEach(() => {
  logs = [];
  dir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
});

afterEach(async () => {
  store?.close();
  store = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function writePair(name: string, cert: TestCert): void {
  write(`${name}.key`, cert.key);
  write(`${name}.crt`, cert.cert);
}

describe('CertStore picks a certificate by SNI', () => {
  beforeEach(() => {
    write('exact.pem', exact.pem);
    writePair('wild', wildcard);
    write('default.pem', fallback.pem);
    write('zz-other.pem', other.pem);
  });

  it('serves the exact name, then a one-label wildcard, then the default', async () => {
    await startStore();
    expect(await servedCN('www.example.test')).toBe('exact');
    expect(await servedCN('WWW.Example.Test')).toBe('exact');
    expect(await servedCN('api.example.test')).toBe('wildcard');
    // A wildcard covers one label only.
    expect(await servedCN('a.b.example.test')).toBe('fallback');
    expect(await servedCN('example.test')).toBe('fallback');
    expect(await servedCN('unknown.test')).toBe('fallback');
    expect(await servedCN('other.test')).toBe('other');
  });

  it('lets the first file in name order win a name two files serve', async () => {
    await startStore();
    // zz-other.pem also names www.example.test; exact.pem comes first.
    expect(await servedCN('www.example.test')).toBe('exact');
  });

  it('reports files, names and the default', async () => {
    const s = await startStore();
    const status = s.status();
    expect(status.default).toBe(join(dir, 'default.pem'));
    expect(status.files.map((f) => [f.file, f.names])).toEqual([
      [join(dir, 'default.pem'), ['fallback']],
      [join(dir, 'exact.pem'), ['www.example.test']],
      [join(dir, 'wild.crt'), ['*.example.test']],
      [join(dir, 'zz-other.pem'), ['other.test', 'www.example.test']],
    ]);
    expect(status.files.every((f) => f.error === undefined && f.validTo !== undefined)).toBe(true);
    expect(s.defaultCredentials()?.cert).toContain('BEGIN CERTIFICATE');
  });
});

describe('CertStore default without default.pem', () => {
  it('falls back to the first file in name order', async () => {
    write('b.pem', other.pem);
    write('a.pem', exact.pem);
    const s = await startStore();
    expect(await servedCN('nothing.test')).toBe('exact');
    expect(s.status().default).toBe(join(dir, 'a.pem'));
  });

  it('serves nothing (and does not throw) with an empty directory', async () => {
    const s = await startStore();
    expect(s.contextFor('www.example.test')).toBeUndefined();
    expect(s.defaultCredentials()).toBeUndefined();
  });
});

describe('CertStore reloads without a restart', () => {
  it('picks up an added, a changed and a removed file', async () => {
    write('default.pem', fallback.pem);
    const s = await startStore();
    expect(await servedCN('www.example.test')).toBe('fallback');
    const before = s.version;

    write('site.pem', exact.pem);
    await waitFor(async () => (await servedCN('www.example.test')) === 'exact', 'the added file to be served');
    expect(s.version).toBeGreaterThan(before);

    write('site.pem', replacement.pem);
    await waitFor(async () => (await servedCN('www.example.test')) === 'replacement', 'the changed file to be served');

    unlinkSync(join(dir, 'site.pem'));
    await waitFor(async () => (await servedCN('www.example.test')) === 'fallback', 'the removed file to stop being served');
    expect(s.status().files.map((f) => f.file)).toEqual([join(dir, 'default.pem')]);
  });

  it('loads extra files named by labels, and forgets them when the list drops them', async () => {
    write('default.pem', fallback.pem);
    const elsewhere = mkdtempSync(join(tmpdir(), 'baton-extra-'));
    try {
      const extraFile = join(elsewhere, 'haproxy-style.pem');
      writeFileSync(extraFile, other.pem);
      const s = await startStore();
      s.setExtraFiles([extraFile]);
      await waitFor(async () => (await servedCN('other.test')) === 'other', 'the extra file to be served');
      s.setExtraFiles([]);
      await waitFor(async () => (await servedCN('other.test')) === 'fallback', 'the extra file to be dropped');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('CertStore with bad files', () => {
  it('skips a bad file, logs it once, and serves the others', async () => {
    write('default.pem', fallback.pem);
    write('exact.pem', exact.pem);
    write('garbage.pem', 'this is not a certificate\n');
    // A certificate with somebody else's key.
    write('mismatch.crt', other.cert);
    write('mismatch.key', wildcard.key);
    write('nokey.crt', other.cert);
    const s = await startStore();
    await s.reload();
    await s.reload();

    expect(await servedCN('www.example.test')).toBe('exact');
    expect(await servedCN('other.test')).toBe('fallback');
    const errors = Object.fromEntries(s.status().files.filter((f) => f.error).map((f) => [f.file.slice(dir.length + 1), f.error]));
    expect(errors).toEqual({
      'garbage.pem': 'no PEM certificate found',
      'mismatch.crt': 'the private key does not match the certificate',
      'nokey.crt': `missing key file ${join(dir, 'nokey.key')}`,
    });
    const skipped = logs.filter((l) => l.msg === 'certificate file skipped').map((l) => l.file);
    expect(skipped.sort()).toEqual([join(dir, 'garbage.pem'), join(dir, 'mismatch.crt'), join(dir, 'nokey.crt')]);
  });

  it('keeps serving the previous good version of a file that turns bad', async () => {
    write('site.pem', exact.pem);
    const s = await startStore();
    expect(await servedCN('www.example.test')).toBe('exact');

    write('site.pem', `${replacement.cert}${other.key}`);
    await waitFor(() => s.status().files[0]?.error, 'the bad version to be noticed');
    expect(await servedCN('www.example.test')).toBe('exact');
    expect(s.status().files[0]?.names).toEqual(['www.example.test']);

    // Fixed again: the new version is served and the error is gone.
    write('site.pem', replacement.pem);
    await waitFor(async () => (await servedCN('www.example.test')) === 'replacement', 'the fixed file to be served');
    expect(s.status().files[0]?.error).toBeUndefined();
  });

  it('keeps the certificates it has when the directory disappears', async () => {
    write('site.pem', exact.pem);
    const s = await startStore();
    rmSync(dir, { recursive: true, force: true });
    await s.reload();
    expect(await servedCN('www.example.test')).toBe('exact');
    expect(s.status().files.find((f) => f.file === dir)?.error).toMatch(/ENOENT/);
  });
});
