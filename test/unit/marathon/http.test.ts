import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, parseEndpoint } from '../../../src/marathon/http.js';

describe('parseEndpoint', () => {
  it('takes userinfo out of the URL and turns it into Basic auth (percent-decoded)', () => {
    expect(parseEndpoint('http://ops:p%40ss%3Aword@marathon.mesos:8080/')).toEqual({
      base: 'http://marathon.mesos:8080',
      authorization: `Basic ${Buffer.from('ops:p@ss:word').toString('base64')}`,
    });
  });

  it('keeps a path prefix (DC/OS /service/marathon) and drops query and trailing slashes', () => {
    expect(parseEndpoint('https://master.mesos/service/marathon//?x=1#y')).toEqual({ base: 'https://master.mesos/service/marathon' });
  });

  it('uses configured credentials for URLs without userinfo; userinfo wins when both exist', () => {
    expect(parseEndpoint('http://m:8080', { token: 'eyJ.a.b' }).authorization).toBe('token=eyJ.a.b');
    expect(parseEndpoint('http://m:8080', { user: 'u', password: 'p' }).authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(parseEndpoint('http://x:y@m:8080', { token: 'eyJ.a.b' }).authorization).toBe(`Basic ${Buffer.from('x:y').toString('base64')}`);
  });

  it('rejects a bad URL without echoing its credentials', () => {
    expect(() => parseEndpoint('http://ops:secret@')).toThrow(/^invalid Marathon URL: http:\/\/\*\*\*@$/);
    expect(() => parseEndpoint('ftp://m:21')).toThrow(/http or https/);
  });
});

describe('getJson', () => {
  let server: Server | undefined;
  const agent = new Agent();
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  afterAll(() => agent.close());

  afterEach(async () => {
    seen.length = 0;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: (url: string, port: number) => [number, Record<string, string>, string]): Promise<string> {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const [status, headers, body] = handler(req.url ?? '', (server?.address() as AddressInfo).port);
      res.writeHead(status, headers).end(body);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('follows redirects with the Authorization header, returns undefined on 404 and throws on other errors', async () => {
    const base = await serve((url, port) => {
      if (url === '/v2/apps/a') return [302, { location: `http://127.0.0.1:${port}/leader/v2/apps/a` }, ''];
      if (url === '/leader/v2/apps/a') return [200, { 'content-type': 'application/json' }, '{"app":{"id":"/a"}}'];
      if (url === '/v2/apps/b') return [404, {}, '{"message":"App \'/b\' does not exist"}'];
      return [503, {}, 'Could not determine the current leader'];
    });
    const endpoint = { base, authorization: 'token=t' };
    const signal = new AbortController().signal;
    expect(await getJson(agent, endpoint, '/v2/apps/a', signal, 5_000)).toEqual({ app: { id: '/a' } });
    expect(seen.map((s) => s.headers.authorization)).toEqual(['token=t', 'token=t']);
    expect(await getJson(agent, endpoint, '/v2/apps/b', signal, 5_000)).toBeUndefined();
    await expect(getJson(agent, endpoint, '/v2/apps', signal, 5_000)).rejects.toThrow(/HTTP 503/);
  });

  it('gives up on a redirect loop', async () => {
    const base = await serve(() => [302, { location: '/again' }, '']);
    await expect(getJson(agent, { base }, '/v2/apps', new AbortController().signal, 5_000)).rejects.toThrow(/more than 3 redirects/);
    expect(seen).toHaveLength(4);
  });
});
