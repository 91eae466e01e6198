// Where the baton under test lives: BATON_ROOT (e.g. a snapshot built elsewhere), else this repo.
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Absolute path of the baton checkout whose dist/ the benchmarks run. */
export function batonRoot() {
  return resolve(process.env.BATON_ROOT ?? fileURLToPath(new URL('../..', import.meta.url)));
}

/** Imports a module of baton's build, e.g. `importDist('sim/index.js')`. */
export function importDist(relative) {
  return import(pathToFileURL(join(batonRoot(), 'dist', relative)).href);
}
