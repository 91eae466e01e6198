import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../../../src/proxy/tls/client-hello.js';

/**
 * Captures the first TLS record a real `tls.connect` sends (node sends its ClientHello in one
 * record); completeness is judged by the record header alone, independently of the parser.
 */
async function captureHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const captured = new Promise<Buffer>((resolve) => {
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
            socket.destroy();
            resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
          }
        });
      });
    });
    const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...options });
    client.on('error', () => {});
    const hello = await captured;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** The same handshake message re-framed as two records, split at `at` bytes into the message. */
function splitIntoRecords(hello: Buffer, at: number): Buffer {
  const message = hello.subarray(5);
  const record = (fragment: Buffer) => Buffer.concat([Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment]);
  return Buffer.concat([record(message.subarray(0, at)), record(message.subarray(at))]);
}

let withSniAndAlpn: Buffer;
let withSniOnly: Buffer;
let withoutSni: Buffer;

beforeAll(async () => {
  withSniAndAlpn = await captureHello({ servername: 'App.Example.test', ALPNProtocols: ['h2', 'http/1.1'] });
  withSniOnly = await captureHello({ servername: 'plain.example.test' });
  // node sends no SNI when connecting to an IP address without `servername`.
  withoutSni = await captureHello({ ALPNProtocols: ['http/1.1'] });
});

describe('parseClientHello on real hellos', () => {
  it('reads the server name and the ALPN offer', () => {
    expect(parseClientHello(withSniAndAlpn)).toEqual({ state: 'ok', serverName: 'App.Example.test', alpn: ['h2', 'http/1.1'] });
  });

  it('reads the server name when no ALPN is offered', () => {
    expect(parseClientHello(withSniOnly)).toEqual({ state: 'ok', serverName: 'plain.example.test' });
  });

  it('reports a hello without SNI as ok with no server name', () => {
    expect(parseClientHello(withoutSni)).toEqual({ state: 'ok', alpn: ['http/1.1'] });
  });

  it('ignores bytes that follow the hello', () => {
    const more = Buffer.concat([withSniAndAlpn, Buffer.from([23, 3, 3, 0, 1, 0])]);
    expect(parseClientHello(more)).toMatchObject({ state: 'ok', serverName: 'App.Example.test' });
  });

  it('needs more at every byte offset before the end, and parses once complete', () => {
    for (let i = 0; i < withSniAndAlpn.length; i++) {
      expect(parseClientHello(withSniAndAlpn.subarray(0, i)), `prefix of ${i} bytes`).toEqual({ state: 'need-more' });
    }
  });

  it('parses a hello split over two records at every offset, header included', () => {
    const messageLength = withSniAndAlpn.length - 5;
    for (let at = 1; at < messageLength; at++) {
      const twoRecords = splitIntoRecords(withSniAndAlpn, at);
      expect(parseClientHello(twoRecords), `split at ${at}`).toEqual({ state: 'ok', serverName: 'App.Example.test', alpn: ['h2', 'http/1.1'] });
    }
    // And every prefix of one such split still asks for more.
    const twoRecords = splitIntoRecords(withSniAndAlpn, 2);
    for (let i = 0; i < twoRecords.length; i++) {
      expect(parseClientHello(twoRecords.subarray(0, i)).state, `prefix of ${i} bytes`).toBe('need-more');
    }
  });
});

describe('parseClientHello on garbage', () => {
  it('rejects plain HTTP from its first byte', () => {
    expect(parseClientHello(Buffer.from('G'))).toMatchObject({ state: 'invalid' });
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ state: 'invalid', reason: 'not a TLS handshake' });
  });

  it('rejects an SSLv2-style hello, other record types and versions', () => {
    expect(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]))).toMatchObject({ state: 'invalid' });
    expect(parseClientHello(Buffer.from([21, 3, 3, 0, 2, 2, 40]))).toMatchObject({ state: 'invalid' });
    expect(parseClientHello(Buffer.from([22, 9, 9, 0, 2]))).toMatchObject({ state: 'invalid', reason: 'unsupported record version' });
  });

  it('rejects a handshake that is not a ClientHello', () => {
    const serverHello = Buffer.from(withSniOnly);
    serverHello[5] = 2;
    expect(parseClientHello(serverHello)).toMatchObject({ state: 'invalid', reason: 'first handshake message is not a ClientHello' });
  });

  it('rejects empty and oversized records', () => {
    expect(parseClientHello(Buffer.from([22, 3, 1, 0, 0]))).toMatchObject({ state: 'invalid', reason: 'bad record length' });
    expect(parseClientHello(Buffer.from([22, 3, 1, 0x48, 0x01]))).toMatchObject({ state: 'invalid', reason: 'bad record length' });
  });

  it('rejects a hello that claims more than 16 KiB', () => {
    expect(parseClientHello(Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x00, 0x40, 0x00]))).toEqual({ state: 'invalid', reason: 'ClientHello too large' });
  });

  it('gives up once 16 KiB of tiny records have not completed the hello', () => {
    const message = withSniAndAlpn.subarray(5);
    const header = Buffer.from([1, 0x00, 0x3f, 0x00]); // claims 16128 bytes
    const records: Buffer[] = [Buffer.from([22, 3, 1, 0, 4]), header];
    let bytes = 9;
    for (let i = 4; bytes < MAX_CLIENT_HELLO_BYTES; i++, bytes += 6) records.push(Buffer.from([22, 3, 1, 0, 1, message[i % message.length] as number]));
    expect(parseClientHello(Buffer.concat(records))).toEqual({ state: 'invalid', reason: 'ClientHello too large' });
  });

  it('rejects a record of another type in the middle of a split hello', () => {
    const split = splitIntoRecords(withSniAndAlpn, 50);
    split[5 + 50] = 23;
    expect(parseClientHello(split)).toMatchObject({ state: 'invalid', reason: 'handshake interrupted by another record type' });
  });

  it('rejects inner lengths that overrun the message instead of reading past it', () => {
    // Session id length at offset 5 + 4 + 2 + 32.
    const badSession = Buffer.from(withSniAndAlpn);
    badSession[43] = 0xff;
    expect(parseClientHello(badSession).state).toBe('invalid');

    const badSuites = Buffer.from(withSniAndAlpn);
    const suitesAt = 44 + (withSniAndAlpn[43] as number);
    badSuites.writeUInt16BE(0x7ff1, suitesAt);
    expect(parseClientHello(badSuites).state).toBe('invalid');

    // Handshake length shorter than its contents: the extensions then overrun the message.
    const shortMessage = Buffer.from(withSniAndAlpn);
    shortMessage.writeUIntBE(withSniAndAlpn.length - 9 - 10, 6, 3);
    expect(parseClientHello(shortMessage).state).toBe('invalid');
  });

  it('never throws on random bytes behind valid record and handshake headers', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const body = Buffer.from(Array.from({ length: 60 + (n % 200) }, random));
      body[0] = 1;
      body.writeUIntBE(body.length - 4, 1, 3);
      const record = Buffer.concat([Buffer.from([22, 3, 1, body.length >> 8, body.length & 0xff]), body]);
      expect(() => parseClientHello(record)).not.toThrow();
    }
  });
});
