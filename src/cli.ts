#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/load.js';
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

async function main(): Promise<void> {
  if (process.argv[2] === 'routes') {
    process.exitCode = await routesCommand(process.argv.slice(3), process.env, (text) => process.stdout.write(text));
    return;
  }
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env, readFileIfExists);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`baton: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const baton = await startBaton(config, logger);
  baton.http.catch((err: unknown) => {
    logger.fatal({ err }, 'cannot open the HTTP entry point');
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    baton.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`baton: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
