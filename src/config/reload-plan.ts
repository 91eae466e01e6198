import type { Config } from './schema.js';

/** Settings a reload applies inside the running control plane. */
const LIVE = new Set<keyof Config>(['logLevel', 'realm', 'domain']);

/** Settings a reload cannot apply: the control plane's connections, files and admin listener. */
const RESTART = new Set<keyof Config>([
  'marathon',
  'marathonCredentials',
  'marathonToken',
  'mesos',
  'mesosPollMs',
  'admin',
  'adminToken',
  'adminTokenFile',
  'stateFile',
  'resyncIntervalMs',
  'streamIdleTimeoutMs',
  'healthCacheSize',
  'coalesceMs',
  'logFormat',
  'resilience',
]);

/** What a reloaded config changes, by how it can be applied. Every other setting belongs to the data path. */
export interface ReloadPlan {
  readonly live: readonly (keyof Config)[];
  /** Applied by replacing the proxy workers (a restart with `--workers 0`). */
  readonly dataPath: readonly (keyof Config)[];
  readonly restart: readonly (keyof Config)[];
}

export function planReload(before: Readonly<Config>, after: Readonly<Config>): ReloadPlan {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)] as (keyof Config)[]);
  const changed = [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
  // Between one process and workers (either way) is a different shape of process: a restart.
  const shapeChanged = (before.workers === 0) !== (after.workers === 0);
  return {
    live: changed.filter((key) => LIVE.has(key)),
    dataPath: changed.filter((key) => !LIVE.has(key) && !RESTART.has(key) && !(key === 'workers' && shapeChanged)),
    restart: changed.filter((key) => RESTART.has(key) || (key === 'workers' && shapeChanged)),
  };
}

/** The config running after a reload: the new values of what was applied, the old ones of what needs a restart. */
export function runningConfig(before: Readonly<Config>, after: Readonly<Config>, notApplied: readonly (keyof Config)[]): Readonly<Config> {
  const running: Record<string, unknown> = { ...after };
  for (const key of notApplied) {
    if (before[key] === undefined) delete running[key];
    else running[key] = before[key];
  }
  return running as Config;
}
