#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { WorkerPool } from './cluster/pool.js';
import { runWorker } from './cluster/worker.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { startBaton } from './main.js';
import { createLogger } from './observability/logger.js';
import { routesCommand } from './routes-command.js';

function readFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
}

const readConfig = (): Readonly<Config> => loadConfig(process.argv.slice(2), process.env, readFileIfExists);

async function main(): Promise<void> {
  // A proxy worker forked by the primary below: it takes its config and tables from the primary.
  if (cluster.isWorker) return runWorker();
  if (process.argv[2] === 'routes') {
    process.exitCode = await routesCommand(process.argv.slice(3), process.env, (text) => process.stdout.write(text));
    return;
  }
  let config;
  try {
    config = readConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`baton: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  const workers = config.workers;
  const baton = await startBaton(config, logger, {
    processMetrics: true,
    ...(workers > 0 && { dataPlane: (tables) => new WorkerPool({ config, tables, logger }) }),
  });
  logger.info({ workers, pid: process.pid }, workers > 0 ? 'proxy workers starting' : 'proxying in this process (--workers 0)');
  baton.http.catch((err: unknown) => {
    logger.fatal({ err }, 'cannot open the HTTP entry point');
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: draining connections');
    baton.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  // One reload at a time; a SIGHUP during a reload is applied after it.
  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      if (stopping) return;
      let next;
      try {
        next = readConfig();
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        logger.error({ reason: err.message }, 'config reload failed; keeping the running config');
        return;
      }
      await baton.reload(next).catch((err: unknown) => logger.error({ err }, 'config reload failed; keeping the running config'));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', reload);
}

main().catch((err: unknown) => {
  process.stderr.write(`baton: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
