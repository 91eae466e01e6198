import type { AppSnapshot } from '../state/model.js';
import { isRecord } from './json.js';
import { NOT_APPS_BODY, parseApps, parseOne, type ParsedApps, type RejectedApp } from './snapshot.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Longest top-level string kept to compare with the key `apps`. */
const MAX_KEY = 16;

type Entry = 'none' | 'container' | 'string' | 'scalar';

/**
 * Reads a `{"apps": [...]}` body (`GET /v2/apps?embed=apps.tasks...`, 31 MB at 10,000 apps) as it
 * arrives, one app at a time: each entry of the top-level `apps` list is cut out of the bytes,
 * parsed and checked alone, so neither the whole body nor its whole parsed tree is ever held
 * (they were most of baton's peak memory after a sync). What lies outside the entries, with each
 * entry replaced by `0`, is parsed at the end: the body as a whole must be valid JSON, so a body
 * cut short fails the snapshot as `JSON.parse` of it did, and never yields a partial app list.
 */
export class AppsBodyReader {
  #depth = 0;
  #inString = false;
  /** In a string, the last chunk ended on a backslash that escapes the next byte. */
  #escapeNext = false;
  /** The top-level string being read or last read, while it may still be a key; undefined once longer. */
  #topString: string | undefined;
  #readingTopString = false;
  /** The key of the top-level value being read. */
  #key: string | undefined;
  /** In the top-level `apps` list: its entries start at depth 2. */
  #inApps = false;
  #appsSeen = false;
  #entry: Entry = 'none';
  /** Earlier chunks' parts of the entry being read. */
  #entryParts: Buffer[] = [];
  /** The body outside the entries (copied: a slice would keep a whole chunk alive). */
  readonly #skeleton: Buffer[] = [];
  #entries = 0;
  readonly #apps: AppSnapshot[] = [];
  readonly #rejected: RejectedApp[] = [];

  /** The next bytes of the body. Throws when an app is not valid JSON. */
  feed(chunk: Buffer): void {
    // Locals for the byte loop (31 MB at 10,000 apps); written back at the end.
    let depth = this.#depth;
    let entry = this.#entry;
    let i = 0;
    const end = chunk.length;
    let skeletonFrom = entry === 'none' ? 0 : -1;
    let entryFrom = entry === 'none' ? -1 : 0;
    let topFrom = 0;
    while (i < end) {
      if (this.#inString) {
        if (this.#escapeNext) {
          this.#escapeNext = false;
          i++;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, i);
        if (quote === -1) {
          // The string goes on in the next chunk; an odd run of backslashes at the end escapes its first byte.
          let k = end - 1;
          while (k >= i && chunk[k] === BACKSLASH) k--;
          this.#escapeNext = (end - 1 - k) % 2 === 1;
          if (this.#readingTopString) this.#addTopString(chunk, topFrom, end);
          i = end;
          break;
        }
        let k = quote - 1;
        while (k >= i && chunk[k] === BACKSLASH) k--;
        i = quote + 1;
        if ((quote - 1 - k) % 2 === 1) continue; // an escaped quote
        this.#inString = false;
        if (this.#readingTopString) {
          this.#addTopString(chunk, topFrom, quote);
          this.#readingTopString = false;
        }
        if (entry === 'string' && depth === 2) {
          entry = this.#endEntry(chunk, entryFrom, i);
          skeletonFrom = i;
        }
        continue;
      }
      const c = chunk[i]!;
      if (depth > 2) {
        // Inside an app: only strings and nesting matter.
        if (c === QUOTE) this.#inString = true;
        else if (c === OPEN_OBJECT || c === OPEN_LIST) depth++;
        else if ((c === CLOSE_OBJECT || c === CLOSE_LIST) && --depth === 2 && entry === 'container') {
          entry = this.#endEntry(chunk, entryFrom, i + 1);
          skeletonFrom = i + 1;
        }
        i++;
        continue;
      }
      const startsEntry = this.#inApps && depth === 2 && entry === 'none';
      if (c === QUOTE) {
        if (startsEntry) {
          this.#skeletonPart(chunk, skeletonFrom, i);
          entry = 'string';
          entryFrom = i;
        } else if (depth === 1) {
          this.#readingTopString = true;
          this.#topString = '';
          topFrom = i + 1;
        }
        this.#inString = true;
      } else if (c === OPEN_OBJECT || c === OPEN_LIST) {
        if (startsEntry) {
          this.#skeletonPart(chunk, skeletonFrom, i);
          entry = 'container';
          entryFrom = i;
        } else if (depth === 1 && c === OPEN_LIST && this.#key === 'apps') {
          if (this.#appsSeen) throw new Error('Marathon apps body has two "apps" lists');
          this.#appsSeen = true;
          this.#inApps = true;
        }
        depth++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_LIST) {
        if (entry === 'scalar') {
          entry = this.#endEntry(chunk, entryFrom, i);
          skeletonFrom = i;
        }
        if (--depth === 1) this.#inApps = false;
      } else if (c === COMMA || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        if (entry === 'scalar') {
          entry = this.#endEntry(chunk, entryFrom, i);
          skeletonFrom = i;
        } else if (c === COMMA && depth === 1) {
          this.#key = undefined;
        }
      } else if (c === COLON) {
        if (depth === 1) this.#key = this.#topString;
      } else if (startsEntry) {
        // A number, true, false or null where an app should be: refused as an app, like any other.
        this.#skeletonPart(chunk, skeletonFrom, i);
        entry = 'scalar';
        entryFrom = i;
      }
      i++;
    }
    if (entry === 'none') this.#skeletonPart(chunk, skeletonFrom, end);
    else this.#entryParts.push(chunk.subarray(entryFrom, end));
    this.#depth = depth;
    this.#entry = entry;
  }

  /** The apps, once the whole body has been fed. Throws when the body is not a whole `{"apps": [...]}`. */
  end(): ParsedApps {
    const text = Buffer.concat(this.#skeleton).toString('utf8');
    // A UTF-8 byte order mark (outside every string, so in the skeleton), as `body.json()` accepted it.
    const json: unknown = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    // A top-level key this reader could not see as `apps` (written with escapes): the skeleton holds it all.
    if (!this.#appsSeen) return parseApps(json);
    if (!isRecord(json) || !Array.isArray(json.apps) || json.apps.length !== this.#entries) throw new Error(NOT_APPS_BODY);
    return { apps: this.#apps, rejected: this.#rejected };
  }

  #addTopString(chunk: Buffer, from: number, to: number): void {
    if (this.#topString === undefined) return;
    const text = this.#topString + chunk.toString('latin1', from, to);
    this.#topString = text.length > MAX_KEY ? undefined : text;
  }

  #skeletonPart(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.#skeleton.push(Buffer.from(chunk.subarray(from, to)));
  }

  /** Parses and checks the entry that ends at `to`; returns the next entry state, `none`. */
  #endEntry(chunk: Buffer, from: number, to: number): 'none' {
    const last = chunk.subarray(from, to);
    const bytes = this.#entryParts.length === 0 ? last : Buffer.concat([...this.#entryParts, last]);
    this.#entryParts = [];
    this.#entries++;
    this.#skeleton.push(PLACEHOLDER);
    const parsed = parseOne(JSON.parse(bytes.toString('utf8')));
    if (parsed.ok) this.#apps.push(parsed.app);
    else this.#rejected.push(parsed.rejected);
    return 'none';
  }
}

const PLACEHOLDER = Buffer.from('0');
