import { afterEach, describe, expect, it } from 'vitest';
import { MarathonSim, MarathonStandby } from '../../../src/sim/index.js';

describe('MarathonStandby', () => {
  let leader: MarathonSim;
  let standby: MarathonStandby;

  afterEach(async () => {
    await standby.close();
    await leader.close();
  });

  async function start(credentials?: { user: string; password: string }): Promise<void> {
    leader = new MarathonSim(credentials ? { credentials } : {});
    standby = new MarathonStandby(leader, credentials ? { credentials } : {});
    await leader.listen();
    await standby.listen();
  }

  it('redirects /v2/events to the leader with 302, query string kept', async () => {
    await start();
    const res = await fetch(`${standby.url}/v2/events?event_type=a&event_type=b&plan-format=light`, {
      headers: { Accept: 'text/event-stream' },
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${leader.url}/v2/events?event_type=a&event_type=b&plan-format=light`);
    await res.body?.cancel();
    expect(leader.requests).toEqual([]);
  });

  it("names the leader on /v2/leader and answers other calls with the leader's data", async () => {
    await start();
    leader.deployApp({ id: '/shop/web' });
    const named = (await (await fetch(`${standby.url}/v2/leader`)).json()) as { leader: string };
    expect(`http://${named.leader}`).toBe(leader.url);
    const res = await fetch(`${standby.url}/v2/apps?embed=apps.tasks`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { apps: { id: string; tasks: unknown[] }[] };
    expect(body.apps.map((a) => a.id)).toEqual(['/shop/web']);
    expect(body.apps[0]?.tasks).toEqual([]);
    expect((await fetch(`${standby.url}/v2/apps/nope`)).status).toBe(404);
  });

  it('requires credentials itself and passes them on to the leader', async () => {
    await start({ user: 'ops', password: 'pw' });
    expect((await fetch(`${standby.url}/v2/events`, { redirect: 'manual' })).status).toBe(401);
    const authorization = `Basic ${Buffer.from('ops:pw').toString('base64')}`;
    const res = await fetch(`${standby.url}/v2/apps`, { headers: { Authorization: authorization } });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect(leader.requests.at(-1)?.headers['authorization']).toBe(authorization);
  });
});
