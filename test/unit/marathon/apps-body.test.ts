import { describe, expect, it } from 'vitest';
import { AppsBodyReader } from '../../../src/marathon/apps-body.js';
import { parseApps, type ParsedApps } from '../../../src/marathon/snapshot.js';
import { fixtureText } from './fixture.js';

/** The body fed in chunks cut at `cuts` (byte offsets). */
function readInChunks(body: Buffer, cuts: readonly number[]): ParsedApps {
  const reader = new AppsBodyReader();
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    reader.feed(body.subarray(from, cut));
    from = cut;
  }
  return reader.end();
}

function expectSameAsWholeParse(text: string): void {
  const body = Buffer.from(text, 'utf8');
  const whole = parseApps(JSON.parse(text));
  expect(readInChunks(body, [])).toStrictEqual(whole);
  // Every cut point once (strings, escapes and multi-byte characters split across chunks)...
  for (let cut = 1; cut < body.length; cut++) expect(readInChunks(body, [cut])).toStrictEqual(whole);
  // ...and one byte at a time.
  expect(readInChunks(body, Array.from({ length: body.length - 1 }, (_, i) => i + 1))).toStrictEqual(whole);
}

/** Odd but valid JSON: escapes before quotes, backslash runs, multi-byte text, bad entries, whitespace everywhere. */
const TRICKY = `\ufeff {
  "note" : "apps \\" [ { ",
  "apps" : [
    { "id" : "/a\\\\", "labels" : { "BATON_0_VHOST" : "x.test", "q" : "say \\"hi\\" \\\\", "ünï" : "cödé ✓" },
      "tasks" : [ { "id" : "a.1", "host" : "h\\u00e9", "ports" : [ 31000 ] } ] } ,
    null , 42 , "an app?" , [ 1 , 2 ] , true ,
    { "id" : "/b", "tasks" : [ { "id" : "b.1" } ] },
    {"id":"/c","ports":[80]}
  ],
  "trailer" : { "apps" : [ 1 ] }
}`;

describe('AppsBodyReader: a Marathon apps body read as it arrives', () => {
  it('gives what parsing the whole body gives, however the body is cut (Marathon 1.8+ fixture)', () => {
    const text = fixtureText('apps-marathon-1.8plus.json');
    const body = Buffer.from(text, 'utf8');
    const whole = parseApps(JSON.parse(text));
    expect(whole.apps.length).toBeGreaterThan(1);
    for (let cut = 1; cut < body.length; cut += 7) expect(readInChunks(body, [cut, Math.min(body.length, cut + 13)])).toStrictEqual(whole);
  });

  it('reads escapes, multi-byte characters, whitespace and non-object entries wherever the chunks are cut', () => {
    const text = TRICKY.replace(/^\ufeff/, '');
    expectSameAsWholeParse(text);
    const { apps, rejected } = parseApps(JSON.parse(text));
    expect(apps.map((a) => a.app.id)).toEqual(['/a\\', '/c']);
    expect(apps[0]?.app.labels).toEqual({ BATON_0_VHOST: 'x.test', q: 'say "hi" \\', ünï: 'cödé ✓' });
    expect(apps[0]?.tasks[0]?.host).toBe('hé');
    expect(rejected.map((r) => r.reason)).toEqual([
      '(app): expected an object, got null',
      '(app): expected an object, got number',
      '(app): expected an object, got string',
      '(app): expected an object, got a list',
      '(app): expected an object, got boolean',
      'tasks.0.host: expected a string, got nothing',
    ]);
  });

  it('accepts a UTF-8 byte order mark', () => {
    const body = Buffer.from(TRICKY, 'utf8');
    expect(body[0]).toBe(0xef);
    expect(readInChunks(body, [1, 2, 5]).apps.map((a) => a.app.id)).toEqual(['/a\\', '/c']);
  });

  it('an apps key written with escapes still reads (the slow way)', () => {
    const text = '{"\\u0061pps": [{"id": "/x"}, {"id": 5}]}';
    expectSameAsWholeParse(text);
    expect(readInChunks(Buffer.from(text), [3]).apps.map((a) => a.app.id)).toEqual(['/x']);
  });

  it.each([
    ['cut short inside an app', '{"apps": [{"id": "/a"}, {"id": "/b", "tasks": ['],
    ['cut short between apps', '{"apps": [{"id": "/a"},'],
    ['cut short after the list', '{"apps": [{"id": "/a"}]'],
    ['an app that is not JSON', '{"apps": [{"id": "/a"}, {"id": /b}]}'],
    ['garbage after the body', '{"apps": [{"id": "/a"}]} x'],
    ['garbage between apps', '{"apps": [{"id": "/a"} {"id": "/b"}]}'],
  ])('fails the whole snapshot, never a partial list: %s', (_, text) => {
    for (const cuts of [[], [5], [12, 13]]) expect(() => readInChunks(Buffer.from(text), cuts)).toThrow();
  });

  it.each([
    ['a list', '[{"apps": []}]'],
    ['apps not a list', '{"apps": {"id": "/a"}}'],
    ['no apps', '{"app": {"id": "/a"}}'],
    ['apps given twice, the last not a list', '{"apps": [{"id": "/a"}], "apps": 1}'],
  ])('throws on a body that is not {apps: [...]}: %s', (_, text) => {
    expect(() => readInChunks(Buffer.from(text), [])).toThrow(/not \{"apps": \[\.\.\.\]\}/);
  });

  it('an empty list is an empty snapshot', () => {
    expect(readInChunks(Buffer.from('{"apps":[]}'), [4])).toEqual({ apps: [], rejected: [] });
  });
});
