/**
 * Parsers shared by the label dialects. Each returns a `Setting`: the value a label gives, or
 * a reason that names the label, its value and what was expected (shown on `/routes`).
 */

import type { Balance, BreakerPolicy, TimeoutPolicy } from '../types.js';
import type { AppWeight } from './balance.js';

export type Setting<T> =
  | { readonly label: string; readonly value: T; readonly error?: undefined }
  | { readonly label: string; readonly error: string; readonly value?: undefined };

export type Protocol = 'http' | 'tcp' | 'udp' | 'tls';

export type BackendProtocol = 'http1' | 'h2c';

export type Labels = Readonly<Record<string, string>>;

/** What one dialect says about one app port; a field the dialect does not set is absent. */
export interface PortReading {
  /** Realms the port belongs to, when the dialect's realm label is set. */
  readonly realms?: readonly string[];
  /** The dialect switches this port (or its whole app) off. */
  readonly excluded?: boolean;
  readonly protocol?: Setting<Protocol>;
  readonly hosts?: Setting<readonly string[]>;
  readonly paths?: Setting<readonly string[]>;
  /** The port baton listens on for a tcp, udp or own-port tls route. */
  readonly port?: Setting<number>;
  /** A PEM file (certificate and key) for the HTTPS entry point. */
  readonly certificate?: Setting<string>;
  readonly redirectToHttps?: Setting<boolean>;
  readonly hsts?: Setting<boolean>;
  readonly backendProtocol?: Setting<BackendProtocol>;
  readonly balance?: Setting<Balance>;
  /** Sticky sessions (HTTP routes only). */
  readonly sticky?: Setting<boolean>;
  readonly weight?: Setting<AppWeight>;
  /** The dialect's breaker settings as a whole: a dialect that sets any of them sets the breaker. */
  readonly breaker?: Setting<BreakerPolicy>;
  readonly timeouts?: Setting<TimeoutPolicy>;
}

/** A per-port label and the port it names, to catch labels for ports the app does not have. */
export interface PortLabel {
  readonly index: number;
  readonly label: string;
}

export function badLabel(label: string, value: string, expected: string): string {
  const shown = value.length > 120 ? `${value.slice(0, 120)}...` : value;
  return `label ${label}=${JSON.stringify(shown)}: expected ${expected}`;
}

/** Comma list, entries trimmed, empty entries dropped. */
export function commaList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Whitespace-separated list. */
export function spaceList(value: string): string[] {
  return value.split(/\s+/).filter((s) => s.length > 0);
}

/** `app.example.com`, `10.0.0.1`: dot-separated names of letters, digits, `-` and `_`. */
const NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const MAX_HOST = 253;

export const HOST_EXPECTED = 'host names like a.example.com, *.example.com or name.*';

export function isHostName(name: string): boolean {
  return name.length <= MAX_HOST && NAME.test(name);
}

/** An exact name, a leading wildcard `*.suffix` or a trailing `prefix.*`, already lower case. */
export function isHostPattern(pattern: string): boolean {
  if (pattern.startsWith('*.')) return isHostName(pattern.slice(2));
  if (pattern.endsWith('.*')) return isHostName(pattern.slice(0, -2));
  return isHostName(pattern);
}

/** Hosts from a list label: lower-cased, de-duplicated; one bad entry makes the whole label bad. */
export function hostsSetting(label: string, value: string, entries: readonly string[]): Setting<readonly string[]> {
  const hosts = unique(entries.map((h) => h.toLowerCase()));
  if (hosts.length === 0 || !hosts.every(isHostPattern)) {
    return { label, error: badLabel(label, value, HOST_EXPECTED) };
  }
  return { label, value: hosts };
}

/** Printable ASCII after a leading `/`, without the query or fragment characters. */
const PATH = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/;

export const PATH_EXPECTED = 'path prefixes starting with / (no spaces, ? or #)';

export function pathsSetting(label: string, value: string, entries: readonly string[]): Setting<readonly string[]> {
  const paths = unique(entries);
  if (paths.length === 0 || !paths.every((p) => PATH.test(p))) {
    return { label, error: badLabel(label, value, PATH_EXPECTED) };
  }
  return { label, value: paths };
}

export function protocolSetting(label: string, value: string, allowed: readonly Protocol[]): Setting<Protocol> {
  const protocol = allowed.find((p) => p === value.trim().toLowerCase());
  if (protocol === undefined) return { label, error: badLabel(label, value, allowed.join(', ')) };
  return { label, value: protocol };
}

/** What `label` says when the app carries it. */
export function readSetting<T>(labels: Labels, label: string, parse: (label: string, value: string) => Setting<T>): Setting<T> | undefined {
  const value = labels[label];
  return value === undefined ? undefined : parse(label, value);
}

/** A listening port: canonical decimal 1-65535. */
export function portSetting(label: string, value: string): Setting<number> {
  const text = value.trim();
  const port = /^[1-9]\d{0,4}$/.test(text) ? Number(text) : 0;
  if (port < 1 || port > 65535) return { label, error: badLabel(label, value, 'a port number from 1 to 65535') };
  return { label, value: port };
}

/** `true` or `false`, any case. */
export function booleanSetting(label: string, value: string): Setting<boolean> {
  const text = value.trim().toLowerCase();
  if (text !== 'true' && text !== 'false') return { label, error: badLabel(label, value, 'true or false') };
  return { label, value: text === 'true' };
}

/**
 * An absolute file path (HAProxy style: certificate and key in one PEM file). Relative paths are
 * refused: they would resolve against baton's working directory, which the app owner cannot know.
 */
export function certificateSetting(label: string, value: string): Setting<string> {
  const path = value.trim();
  if (!path.startsWith('/') || path.length > 4096 || /[\x00-\x1f\x7f]/.test(path)) {
    return { label, error: badLabel(label, value, 'an absolute path to a PEM file holding the certificate and its key') };
  }
  return { label, value: path };
}

export function backendProtocolSetting(label: string, value: string): Setting<BackendProtocol> {
  const text = value.trim().toLowerCase();
  if (text !== 'http1' && text !== 'h2c') return { label, error: badLabel(label, value, 'http1 or h2c') };
  return { label, value: text };
}

/** Port index from a label name part: canonical decimal only (`HAPROXY_01_VHOST` is not port 1). */
export function portIndexOf(text: string): number | undefined {
  return /^(?:0|[1-9]\d{0,4})$/.test(text) ? Number(text) : undefined;
}

/** Labels whose name matches `pattern`, with the port index its first group captures. */
export function portLabelsMatching(labels: Labels, pattern: RegExp): PortLabel[] {
  const found: PortLabel[] = [];
  for (const label of Object.keys(labels)) {
    const index = portIndexOf(pattern.exec(label)?.[1] ?? '');
    if (index !== undefined) found.push({ index, label });
  }
  return found;
}

export function isFalse(value: string): boolean {
  return value.trim().toLowerCase() === 'false';
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
