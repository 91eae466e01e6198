import { describe, expect, it } from 'vitest';
import { routeSpecs } from '../../../src/routing/route-spec.js';
import type { AppPort } from '../../../src/state/model.js';
import { appDef, DEFAULT_SPEC_POLICY } from './fixtures.js';

const specsOf = (labels: Record<string, string>, ports: number | Array<Partial<AppPort>> = 1) =>
  routeSpecs(appDef('/shop/db', { labels, ports }), {});

const only = (labels: Record<string, string>, ports: number | Array<Partial<AppPort>> = 1) => {
  const { specs, disabled } = specsOf(labels, ports);
  expect(disabled).toEqual([]);
  expect(specs).toHaveLength(1);
  return specs[0]!;
};

const reasonOf = (labels: Record<string, string>, ports: number | Array<Partial<AppPort>> = 1) => {
  const { specs, disabled } = specsOf(labels, ports);
  expect(specs).toEqual([]);
  expect(disabled).toHaveLength(1);
  return disabled[0]!.reason;
};

describe('routeSpecs: listening port of tcp and udp routes', () => {
  it('defaults to the app port service port', () => {
    expect(only({ BATON_0_PROTOCOL: 'tcp' }, [{ servicePort: 10042 }])).toEqual({ appId: '/shop/db', portIndex: 0, protocol: 'tcp', port: 10042, ...DEFAULT_SPEC_POLICY });
    expect(only({}, [{ protocol: 'udp', servicePort: 10053 }])).toEqual({ appId: '/shop/db', portIndex: 0, protocol: 'udp', port: 10053, ...DEFAULT_SPEC_POLICY });
  });

  it('BATON_n_PORT, then HAPROXY_n_PORT, override the service port', () => {
    expect(only({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_PORT: '5432' })).toMatchObject({ protocol: 'tcp', port: 5432 });
    expect(only({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_PORT: '5432', BATON_0_PORT: ' 6432 ' })).toMatchObject({ port: 6432 });
    expect(only({ NIXY_PROTOCOL: 'udp', BATON_0_PORT: '53' })).toMatchObject({ protocol: 'udp', port: 53 });
  });

  it('applies to port n > 0 with its own labels', () => {
    const { specs } = specsOf({ BATON_1_PROTOCOL: 'tcp', BATON_1_PORT: '9001' }, 2);
    expect(specs.map((s) => [s.portIndex, s.protocol, 'port' in s ? s.port : undefined])).toEqual([[0, 'http', undefined], [1, 'tcp', 9001]]);
  });

  it.each([0, undefined, 70000])('without a service port (%j) or a port label the port is disabled', (servicePort) => {
    const reason = reasonOf({ BATON_0_PROTOCOL: 'tcp' }, [{ servicePort }]);
    expect(reason).toBe('no service port: expected a servicePort on app port 0 or a BATON_0_PORT label');
    expect(only({ BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '7000' }, [{ servicePort }])).toMatchObject({ port: 7000 });
  });

  it.each(['0', '65536', '-1', '080', '12a', '', '1e3', '9000,9001'])('bad port %j, in both dialects', (value) => {
    expect(reasonOf({ BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: value })).toBe(
      `label BATON_0_PORT=${JSON.stringify(value)}: expected a port number from 1 to 65535`,
    );
    expect(reasonOf({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_PORT: value })).toContain(`label HAPROXY_0_PORT=${JSON.stringify(value)}`);
  });

  it('accepts the ends of the range', () => {
    expect(only({ BATON_0_PROTOCOL: 'udp', BATON_0_PORT: '1' })).toMatchObject({ port: 1 });
    expect(only({ BATON_0_PROTOCOL: 'udp', BATON_0_PORT: '65535' })).toMatchObject({ port: 65535 });
  });

  it('a bad HAPROXY_n_PORT under a good BATON_n_PORT is not read', () => {
    expect(only({ BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000', HAPROXY_0_PORT: 'nine' })).toMatchObject({ port: 9000 });
  });

  it('host and path labels mean nothing to a whole port; the default host does not apply', () => {
    expect(only({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_VHOST: 'db.example.com', HAPROXY_0_PATH: '/x' })).toEqual({
      appId: '/shop/db',
      portIndex: 0,
      protocol: 'tcp',
      port: 10000,
      ...DEFAULT_SPEC_POLICY,
    });
  });

  it('a port label on an http port is not read (http routes live on the HTTP entry points)', () => {
    expect(only({ HAPROXY_0_VHOST: 'web.example.com', HAPROXY_0_PORT: '8080' })).not.toHaveProperty('port');
  });
});

describe('routeSpecs: tls passthrough', () => {
  it('needs a host label', () => {
    expect(reasonOf({ BATON_0_PROTOCOL: 'tls' })).toBe('tls passthrough needs a host: set BATON_0_VHOST');
    const { disabled } = specsOf({ BATON_2_PROTOCOL: 'tls' }, 3);
    expect(disabled).toEqual([{ appId: '/shop/db', portIndex: 2, reason: 'tls passthrough needs a host: set BATON_2_VHOST' }]);
  });

  it('takes hosts from any dialect, sorted later by the table', () => {
    expect(only({ BATON_0_PROTOCOL: 'tls', HAPROXY_0_VHOST: 'B.example.com,a.example.com' })).toEqual({
      appId: '/shop/db',
      portIndex: 0,
      protocol: 'tls',
      hosts: ['b.example.com', 'a.example.com'],
      ...DEFAULT_SPEC_POLICY,
    });
  });

  it('lives on the HTTPS entry point unless a port label names its own port (the service port does not)', () => {
    expect(only({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com' }, [{ servicePort: 10443 }])).not.toHaveProperty('port');
    expect(only({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', BATON_0_PORT: '8443' })).toMatchObject({ port: 8443 });
    expect(only({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', HAPROXY_0_PORT: '9443' })).toMatchObject({ port: 9443 });
  });
});

describe('routeSpecs: certificates', () => {
  it('BATON_n_SSL_CERT, then HAPROXY_n_SSL_CERT, on a port of any protocol', () => {
    expect(only({ HAPROXY_0_SSL_CERT: '/etc/ssl/shop.pem' })).toMatchObject({ protocol: 'http', certificate: '/etc/ssl/shop.pem' });
    expect(only({ HAPROXY_0_SSL_CERT: '/etc/ssl/a.pem', BATON_0_SSL_CERT: ' /etc/ssl/b.pem ' })).toMatchObject({ certificate: '/etc/ssl/b.pem' });
    expect(only({ BATON_0_PROTOCOL: 'tcp', BATON_0_SSL_CERT: '/c.pem' })).toMatchObject({ protocol: 'tcp', certificate: '/c.pem' });
    expect(only({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', BATON_0_SSL_CERT: '/c.pem' })).toMatchObject({ certificate: '/c.pem' });
    expect(only({})).not.toHaveProperty('certificate');
  });

  it.each(['cert.pem', './cert.pem', '', '/etc/ssl/a.pem\n/etc/passwd'])('bad certificate path %j', (value) => {
    expect(reasonOf({ BATON_0_SSL_CERT: value })).toBe(
      `label BATON_0_SSL_CERT=${JSON.stringify(value)}: expected an absolute path to a PEM file holding the certificate and its key`,
    );
    expect(reasonOf({ HAPROXY_0_SSL_CERT: value })).toContain('label HAPROXY_0_SSL_CERT=');
  });
});

describe('routeSpecs: redirect to https, HSTS, backend protocol', () => {
  it('are off and http1 without labels', () => {
    expect(only({})).toMatchObject({ redirectToHttps: false, hsts: false, backendProtocol: 'http1' });
  });

  it.each(['BATON', 'HAPROXY'])('%s_n_REDIRECT_TO_HTTPS and %s_n_USE_HSTS: true or false, any case', (dialect) => {
    expect(only({ [`${dialect}_0_REDIRECT_TO_HTTPS`]: 'TRUE', [`${dialect}_0_USE_HSTS`]: ' true ' })).toMatchObject({ redirectToHttps: true, hsts: true });
    expect(only({ [`${dialect}_0_REDIRECT_TO_HTTPS`]: 'False', [`${dialect}_0_USE_HSTS`]: 'false' })).toMatchObject({ redirectToHttps: false, hsts: false });
  });

  it("baton's labels win over marathon-lb's", () => {
    expect(only({ HAPROXY_0_REDIRECT_TO_HTTPS: 'true', BATON_0_REDIRECT_TO_HTTPS: 'false' })).toMatchObject({ redirectToHttps: false });
    expect(only({ HAPROXY_0_USE_HSTS: 'false', BATON_0_USE_HSTS: 'true' })).toMatchObject({ hsts: true });
    expect(only({ HAPROXY_0_USE_HSTS: 'yes', BATON_0_USE_HSTS: 'true' })).toMatchObject({ hsts: true });
  });

  it.each(['yes', '1', 'on', '', 'truee'])('a boolean label reading %j disables the port', (value) => {
    expect(reasonOf({ HAPROXY_0_REDIRECT_TO_HTTPS: value })).toBe(`label HAPROXY_0_REDIRECT_TO_HTTPS=${JSON.stringify(value)}: expected true or false`);
    expect(reasonOf({ BATON_0_USE_HSTS: value })).toBe(`label BATON_0_USE_HSTS=${JSON.stringify(value)}: expected true or false`);
  });

  it('BATON_n_BACKEND_PROTOCOL: http1 or h2c, any case', () => {
    expect(only({ BATON_0_BACKEND_PROTOCOL: 'H2C' })).toMatchObject({ backendProtocol: 'h2c' });
    expect(only({ BATON_0_BACKEND_PROTOCOL: 'http1' })).toMatchObject({ backendProtocol: 'http1' });
    for (const value of ['h2', 'grpc', 'http2', '']) {
      expect(reasonOf({ BATON_0_BACKEND_PROTOCOL: value })).toBe(`label BATON_0_BACKEND_PROTOCOL=${JSON.stringify(value)}: expected http1 or h2c`);
    }
  });

  it('a bad new label disables its own port only, together with the other bad labels of that port', () => {
    const { specs, disabled } = specsOf({ BATON_0_USE_HSTS: 'maybe', BATON_0_PORT: 'x', BATON_1_VHOST: 'one.example.com' }, 2);
    expect(specs.map((s) => s.portIndex)).toEqual([1]);
    expect(disabled).toEqual([
      { appId: '/shop/db', portIndex: 0, reason: 'label BATON_0_PORT="x": expected a port number from 1 to 65535; label BATON_0_USE_HSTS="maybe": expected true or false' },
    ]);
  });

  it('the new labels do not make a port n > 0 a route on their own', () => {
    expect(specsOf({ BATON_1_PORT: '9000', HAPROXY_1_SSL_CERT: '/c.pem', BATON_1_USE_HSTS: 'true' }, 2).specs.map((s) => s.portIndex)).toEqual([0]);
  });

  it('excluded ports and ports of another realm keep their bad new labels to themselves', () => {
    expect(specsOf({ HAPROXY_0_ENABLED: 'false', HAPROXY_0_PORT: 'bad' })).toEqual({ specs: [], disabled: [] });
    expect(routeSpecs(appDef('/x', { labels: { BATON_REALM: 'other', BATON_0_USE_HSTS: 'bad' } }), { realm: 'edge' })).toEqual({ specs: [], disabled: [] });
  });
});

describe('routeSpecs: new labels naming ports the app does not have', () => {
  it.each([
    'BATON_2_PORT',
    'BATON_2_SSL_CERT',
    'BATON_2_REDIRECT_TO_HTTPS',
    'BATON_2_USE_HSTS',
    'BATON_2_BACKEND_PROTOCOL',
    'HAPROXY_2_PORT',
    'HAPROXY_2_SSL_CERT',
    'HAPROXY_2_REDIRECT_TO_HTTPS',
    'HAPROXY_2_USE_HSTS',
  ])('%s on a 1-port app disables port 2', (label) => {
    const { specs, disabled } = specsOf({ [label]: 'true' });
    expect(specs.map((s) => s.portIndex)).toEqual([0]);
    expect(disabled).toEqual([{ appId: '/shop/db', portIndex: 2, reason: `label ${label}="true" names port 2, but the app has 1 port: expected a port index below 1` }]);
  });
});
