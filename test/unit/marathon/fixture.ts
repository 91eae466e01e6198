import { readFileSync } from 'node:fs';

/** Reads test/fixtures/marathon/<name>. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../../fixtures/marathon/${name}`, import.meta.url), 'utf8');
}

export function fixture(name: string): unknown {
  return JSON.parse(fixtureText(name));
}

/** An event fixture as Marathon puts it on the wire: one line of JSON. */
export function eventData(name: string): string {
  return JSON.stringify(fixture(`events/${name}`));
}
