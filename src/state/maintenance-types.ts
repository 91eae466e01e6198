/**
 * Maintenance as the state knows it: machines Mesos reports in maintenance, and the operator's
 * out-of-service marks. Plain data; the Mesos poller produces the first, the admin API the second.
 */

/** A Mesos `MachineID`: a hostname, an ip, or both. */
export interface MachineId {
  readonly hostname?: string;
  readonly ip?: string;
}

/** Machines in maintenance, as the leading Mesos master reports them (UP machines are not listed). */
export interface MesosMachines {
  readonly draining: readonly MachineId[];
  readonly down: readonly MachineId[];
}

/** What an operator mark takes out of service: any task matching any entry. */
export interface MarkTargets {
  /** Agent hostnames (case-insensitive) or IPs, matched against the task's `host` and `ipAddresses`. */
  readonly hosts?: readonly string[];
  /** Marathon 1.5+ task zones (case-insensitive). */
  readonly zones?: readonly string[];
  /** Absolute app ids. */
  readonly apps?: readonly string[];
  /** Task ids or instance ids (either names the instance). */
  readonly tasks?: readonly string[];
}

export interface MarkInput extends MarkTargets {
  readonly note?: string;
  /** Epoch milliseconds; absent (and no ttlMs) = until deleted. */
  readonly expiresAt?: number;
  /** Expires this long after its creation. */
  readonly ttlMs?: number;
}

export interface Mark extends MarkTargets {
  /** A decimal number, never reused (the next id is persisted with the marks). */
  readonly id: string;
  readonly note?: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601; absent = until deleted. */
  readonly expiresAt?: string;
}
