import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Agent } from 'undici';
import { routesView } from './admin/routes-view.js';
import { splitCredentials } from './config/schema.js';
import { getJson, parseEndpoint } from './marathon/http.js';
import { parseApps } from './marathon/snapshot.js';
import { TableBuilder } from './routing/table.js';
import type { RoutingTable } from './routing/types.js';
import { ClusterState } from './state/cluster-state.js';
import { HealthJudge } from './state/health.js';

const USAGE = 'usage: baton routes (--marathon URL | --apps FILE) [--realm NAME] [--domain NAME] [--json]';

/**
 * `baton routes`: a dry run that prints the table baton would build from a live Marathon or from
 * a saved `/v2/apps?embed=apps.tasks` response, disabled routes and why included. The tool to run
 * before switching from marathon-lb or nixy. Returns the exit status.
 */
export async function routesCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, out: (text: string) => void): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: { marathon: { type: 'string' }, apps: { type: 'string' }, realm: { type: 'string' }, domain: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    out(`baton routes: ${(err as Error).message.split('\n')[0]}\n${USAGE}\n`);
    return 2;
  }
  if ((values.marathon === undefined) === (values.apps === undefined)) {
    out(`baton routes: give exactly one of --marathon and --apps\n${USAGE}\n`);
    return 2;
  }

  let body: unknown;
  let source: string;
  try {
    if (values.apps !== undefined) {
      source = values.apps;
      body = JSON.parse(readFileSync(values.apps, 'utf8'));
    } else {
      const credentials = env.BATON_MARATHON_TOKEN ? { token: env.BATON_MARATHON_TOKEN } : env.BATON_MARATHON_CREDENTIALS ? splitCredentials(env.BATON_MARATHON_CREDENTIALS) : undefined;
      const endpoint = parseEndpoint(values.marathon as string, credentials);
      source = endpoint.base;
      const dispatcher = new Agent();
      try {
        body = await getJson(dispatcher, endpoint, '/v2/apps?embed=apps.tasks&embed=apps.readiness', AbortSignal.timeout(30_000), 30_000);
      } finally {
        await dispatcher.close();
      }
    }
  } catch (err) {
    out(`baton routes: cannot read the apps: ${(err as Error).message}\n`);
    return 1;
  }

  let parsed;
  try {
    parsed = parseApps(body);
  } catch (err) {
    out(`baton routes: ${(err as Error).message}\n`);
    return 1;
  }
  const state = new ClusterState({ judge: new HealthJudge(100_000), logger: pino({ level: 'silent' }), onChange: () => {}, onRefetch: () => {} });
  state.replaceAll(parsed.apps);
  const table = new TableBuilder({ realm: values.realm, domain: values.domain }).build(state.views(), 1);

  if (values.json) {
    out(`${JSON.stringify({ ...routesView(table, { listeners: [] }, table.builtAt), rejectedApps: parsed.rejected }, null, 2)}\n`);
    return 0;
  }
  const counts = state.counts();
  out(`${counts.apps} apps, ${counts.tasks} tasks from ${source}${values.realm ? ` (realm ${values.realm})` : ''}\n\n`);
  out(describe(table));
  for (const rejected of parsed.rejected) out(`skipped app ${rejected.appId ?? '(no id)'}: ${rejected.reason}\n`);
  return 0;
}

function describe(table: RoutingTable): string {
  const rows: string[][] = [];
  for (const r of table.routes) rows.push(['http', `${r.hosts.join(',')} ${r.path}`, r.id, `${r.backends.length}/${r.status.length} routable`]);
  for (const r of table.portRoutes) rows.push([r.protocol, `port ${r.port}`, r.id, `${r.backends.length}/${r.status.length} routable`]);
  for (const r of table.tlsRoutes) rows.push(['tls', `${r.hosts.join(',')} on ${r.port ?? 'https'}`, r.id, `${r.backends.length}/${r.status.length} routable`]);
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((row) => (row[i] as string).length)));
  let text = rows.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] as number) : cell)).join('  ')).join('\n');
  text += rows.length > 0 ? '\n' : 'no routes\n';
  if (table.disabled.length > 0) {
    text += `\ndisabled (${table.disabled.length}):\n`;
    for (const d of table.disabled) text += `  ${d.appId}:${d.portIndex}  ${d.reason}\n`;
  }
  return text;
}
