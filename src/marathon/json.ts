/** Small checks shared by the snapshot and event parsers. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Very old Marathons accept and echo relative app ids; the model uses the absolute form. */
export function absoluteAppId(id: string): string {
  return id.startsWith('/') ? id : `/${id}`;
}
