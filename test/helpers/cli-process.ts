/**
 * The built `baton` executable (dist/cli.js) as an operator runs it, in its own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export interface CliProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  out(): string;
  err(): string;
  /** stdout's JSON log lines parsed (other lines skipped). */
  logs(): Record<string, unknown>[];
}

export function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    logs: () =>
      stdout.split('\n').flatMap((line) => {
        try {
          return line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
  };
}
