import { parseArgs } from 'node:util';
import { configSchema, type Config } from './schema.js';

/** A configuration problem, worded as the one line baton prints before exiting with status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads a file's text, or undefined when it does not exist. Injected so loading stays pure. */
export type ReadFile = (path: string) => string | undefined;

export const DEFAULT_CONFIG_FILE = 'config/baton.json';

/**
 * Settings with a command-line flag and an environment variable. Every other setting lives in the
 * file only. Credentials have no flag on purpose: flags show up in `ps`.
 */
interface Setting {
  readonly key: keyof Config;
  readonly env: string;
  readonly flag?: string;
  readonly list?: boolean;
  readonly secret?: boolean;
}

const SETTINGS: readonly Setting[] = [
  { key: 'marathon', flag: 'marathon', env: 'BATON_MARATHON', list: true },
  { key: 'realm', flag: 'realm', env: 'BATON_REALM' },
  { key: 'http', flag: 'http', env: 'BATON_HTTP' },
  { key: 'admin', flag: 'admin', env: 'BATON_ADMIN' },
  { key: 'https', flag: 'https', env: 'BATON_HTTPS' },
  { key: 'certs', flag: 'certs', env: 'BATON_CERTS' },
  { key: 'serviceBind', flag: 'service-bind', env: 'BATON_SERVICE_BIND' },
  { key: 'mesos', flag: 'mesos', env: 'BATON_MESOS', list: true },
  { key: 'stateFile', flag: 'state-file', env: 'BATON_STATE_FILE' },
  { key: 'adminTokenFile', flag: 'admin-token-file', env: 'BATON_ADMIN_TOKEN_FILE' },
  { key: 'adminToken', flag: 'admin-token', env: 'BATON_ADMIN_TOKEN', secret: true },
  { key: 'domain', flag: 'domain', env: 'BATON_DOMAIN' },
  { key: 'logLevel', flag: 'log-level', env: 'BATON_LOG_LEVEL' },
  { key: 'logFormat', flag: 'log-format', env: 'BATON_LOG_FORMAT' },
  { key: 'accessLog', flag: 'access-log', env: 'BATON_ACCESS_LOG' },
  { key: 'accessLogSample', flag: 'access-log-sample', env: 'BATON_ACCESS_LOG_SAMPLE' },
  { key: 'workers', flag: 'workers', env: 'BATON_WORKERS' },
  { key: 'marathonCredentials', env: 'BATON_MARATHON_CREDENTIALS', secret: true },
  { key: 'marathonToken', env: 'BATON_MARATHON_TOKEN', secret: true },
];

/** Every environment variable baton reads. */
export const ENVIRONMENT: readonly string[] = ['BATON_CONFIG', ...SETTINGS.map((s) => s.env)];

const SECRET_KEYS = new Set<string>(SETTINGS.filter((s) => s.secret).map((s) => s.key));

function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Builds the configuration from, in rising precedence: defaults, the JSON file, environment
 * variables, flags. Pure: no I/O but `readFile`. Throws ConfigError naming the field, the value
 * and what was expected.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readFile: ReadFile): Readonly<Config> {
  const flags = parseFlags(argv);
  const file = (flags.config as string | undefined) ?? env.BATON_CONFIG;
  const raw: Record<string, unknown> = readConfigFile(file ?? DEFAULT_CONFIG_FILE, file !== undefined, readFile);
  const origin: Record<string, string> = {};
  for (const key of Object.keys(raw)) origin[key] = `in ${file ?? DEFAULT_CONFIG_FILE}`;

  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      raw[setting.key] = setting.list ? splitList([fromEnv]) : fromEnv;
      origin[setting.key] = `from ${setting.env}`;
    }
    const fromFlag = setting.flag ? flags[setting.flag] : undefined;
    if (fromFlag !== undefined) {
      raw[setting.key] = Array.isArray(fromFlag) ? splitList(fromFlag) : fromFlag;
      origin[setting.key] = `from --${setting.flag}`;
    }
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    const top = String(issue.path[0] ?? '');
    const value = issue.code === 'unrecognized_keys' ? undefined : valueAt(raw, issue.path);
    const shown = SECRET_KEYS.has(top) ? '(hidden)' : JSON.stringify(value);
    const where = origin[top] ? ` (${origin[top]})` : '';
    if (issue.code === 'unrecognized_keys') {
      throw new ConfigError(`config ${field === '(top level)' ? '' : `${field}: `}unknown setting ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}; see README "Configuration"`);
    }
    if (value === undefined) throw new ConfigError(`config ${field}: missing; ${issue.message}${where}`);
    throw new ConfigError(`config ${field}: ${shown} is invalid; ${issue.message}${where}`);
  }
  return deepFreeze(withTokenFile(parsed.data, readFile));
}

/** `adminTokenFile` fills `adminToken` (which then may not also be set), under the same rule. */
function withTokenFile(config: Config, readFile: ReadFile): Config {
  if (config.adminTokenFile === undefined) return config;
  if (config.adminToken !== undefined) throw new ConfigError('config adminTokenFile: set either adminToken or adminTokenFile, not both');
  const token = readFile(config.adminTokenFile)?.trim();
  if (token === undefined) throw new ConfigError(`config adminTokenFile: ${config.adminTokenFile} not found`);
  if (token.length < 16) throw new ConfigError(`config adminTokenFile: the token in ${config.adminTokenFile} is invalid; expected a token of at least 16 characters`);
  return { ...config, adminToken: token };
}

function parseFlags(argv: readonly string[]): Record<string, string | string[] | undefined> {
  const options = {
    config: { type: 'string' },
    marathon: { type: 'string', multiple: true },
    realm: { type: 'string' },
    http: { type: 'string' },
    admin: { type: 'string' },
    https: { type: 'string' },
    certs: { type: 'string' },
    'service-bind': { type: 'string' },
    mesos: { type: 'string', multiple: true },
    'state-file': { type: 'string' },
    'admin-token': { type: 'string' },
    'admin-token-file': { type: 'string' },
    domain: { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    'access-log': { type: 'string' },
    'access-log-sample': { type: 'string' },
    workers: { type: 'string' },
  } as const;
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split('\n')[0]}; flags are --config, --marathon, --mesos, --realm, --http, --https, --certs, --service-bind, --admin, --admin-token, --admin-token-file, --state-file, --domain, --log-level, --log-format, --access-log, --access-log-sample, --workers`);
  }
}

function readConfigFile(path: string, explicit: boolean, readFile: ReadFile): Record<string, unknown> {
  const text = readFile(path);
  if (text === undefined) {
    if (explicit) throw new ConfigError(`config file ${path}: not found`);
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`config file ${path}: expected a JSON object`);
  }
  return { ...(json as Record<string, unknown>) };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
