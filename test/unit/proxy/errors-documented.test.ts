import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROXY_ERRORS } from '../../../src/proxy/errors.js';

describe('error codes', () => {
  it('are all listed in the README with their status, as operators look them up there', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(PROXY_ERRORS)) {
      expect(readme, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, 'm'));
    }
  });
});
