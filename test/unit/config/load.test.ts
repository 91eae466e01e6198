import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ReadFile } from '../../../src/config/load.js';

const files = (map: Record<string, string>): ReadFile => (path) => map[path];
const none: ReadFile = () => undefined;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults around the one required setting', () => {
    const config = loadConfig(['--marathon', 'http://m:8080'], {}, none);
    expect(config.marathon).toEqual(['http://m:8080']);
    expect(config.http).toEqual({ host: '0.0.0.0', port: 80 });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(config.logLevel).toBe('info');
    expect(config.upstream.connectTimeoutMs).toBe(3000);
    expect(Object.isFrozen(config.upstream)).toBe(true);
  });

  it('takes flags over environment over file over defaults', () => {
    const read = files({ 'config/baton.json': JSON.stringify({ marathon: ['http://file:8080'], realm: 'file', domain: 'file.example', http: '127.0.0.1:81' }) });
    const config = loadConfig(['--realm', 'flag'], { BATON_REALM: 'env', BATON_DOMAIN: 'env.example' }, read);
    expect(config.realm).toBe('flag');
    expect(config.domain).toBe('env.example');
    expect(config.marathon).toEqual(['http://file:8080']);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 81 });
  });

  it('accepts --marathon repeated and as a comma list, and BATON_MARATHON as a comma list', () => {
    expect(loadConfig(['--marathon', 'http://a:1,http://b:2', '--marathon', 'http://c:3'], {}, none).marathon).toEqual(['http://a:1', 'http://b:2', 'http://c:3']);
    expect(loadConfig([], { BATON_MARATHON: 'http://a:1, http://b:2' }, none).marathon).toEqual(['http://a:1', 'http://b:2']);
  });

  it('parses IPv6 listen addresses', () => {
    expect(loadConfig(['--marathon', 'http://m', '--http', '[::1]:8080'], {}, none).http).toEqual({ host: '::1', port: 8080 });
  });

  it('reads the file named by --config and BATON_CONFIG', () => {
    const read = files({ '/etc/b.json': '{"marathon":["http://x:1"],"coalesceMs":5}' });
    expect(loadConfig(['--config', '/etc/b.json'], {}, read).coalesceMs).toBe(5);
    expect(loadConfig([], { BATON_CONFIG: '/etc/b.json' }, read).marathon).toEqual(['http://x:1']);
  });

  it('names the field, the value, what was expected and where the value came from', () => {
    expect(errorOf(() => loadConfig(['--marathon', 'http://m', '--http', 'nonsense'], {}, none))).toBe(
      'config http: "nonsense" is invalid; expected HOST:PORT, e.g. 0.0.0.0:80 or [::1]:8080 (from --http)',
    );
    expect(errorOf(() => loadConfig([], { BATON_MARATHON: 'ftp://m' }, none))).toBe(
      'config marathon.0: "ftp://m" is invalid; expected an http(s) URL, e.g. http://marathon.mesos:8080 (from BATON_MARATHON)',
    );
    expect(errorOf(() => loadConfig(['--marathon', 'http://m', '--log-level', 'loud'], {}, none))).toMatch(/^config logLevel: "loud" is invalid; .*"debug".* \(from --log-level\)$/);
    expect(errorOf(() => loadConfig([], {}, none))).toMatch(/^config marathon: missing; /);
  });

  it('rejects unknown settings in the file, bad JSON, a missing explicit file and unknown flags', () => {
    const read = files({ 'config/baton.json': '{"marathon":["http://m"],"upstream":{"conectTimeoutMs":1}}', 'bad.json': '{' });
    expect(errorOf(() => loadConfig([], {}, read))).toMatch(/^config upstream: unknown setting "conectTimeoutMs"/);
    expect(errorOf(() => loadConfig(['--config', 'bad.json'], {}, read))).toMatch(/^config file bad.json: not valid JSON/);
    expect(errorOf(() => loadConfig(['--config', 'nope.json'], {}, read))).toBe('config file nope.json: not found');
    expect(errorOf(() => loadConfig(['--marathn', 'x'], {}, none))).toMatch(/--marathn/);
  });

  it('never prints a credential in an error', () => {
    const message = errorOf(() => loadConfig(['--marathon', 'http://m'], { BATON_MARATHON_CREDENTIALS: 'secretvalue' }, none));
    expect(message).toContain('marathonCredentials');
    expect(message).not.toContain('secretvalue');
  });

  it('splits USER:PASSWORD credentials at the first colon', () => {
    const config = loadConfig(['--marathon', 'http://m'], { BATON_MARATHON_CREDENTIALS: 'ops:pa:ss' }, none);
    expect(config.marathonCredentials).toEqual({ user: 'ops', password: 'pa:ss' });
  });

  it('reads the admin token from a file, and refuses a short one or both forms at once', () => {
    const read = files({ '/run/token': 'a-token-long-enough-to-use\n', '/run/short': 'short\n' });
    expect(loadConfig(['--marathon', 'http://m', '--admin-token-file', '/run/token'], {}, read).adminToken).toBe('a-token-long-enough-to-use');
    expect(errorOf(() => loadConfig(['--marathon', 'http://m', '--admin-token-file', '/run/short'], {}, read))).toMatch(/at least 16 characters/);
    expect(errorOf(() => loadConfig(['--marathon', 'http://m', '--admin-token-file', '/run/none'], {}, read))).toBe('config adminTokenFile: /run/none not found');
    const both = errorOf(() => loadConfig(['--marathon', 'http://m', '--admin-token-file', '/run/token'], { BATON_ADMIN_TOKEN: 'another-long-token-value' }, read));
    expect(both).toMatch(/not both/);
    expect(both).not.toContain('another-long-token-value');
  });
});
