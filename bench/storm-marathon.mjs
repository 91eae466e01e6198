// The Marathon of bench/storm.mjs, in a process of its own so that publishing the storm does not
// slow the load generator: `node storm-marathon.mjs APPS PROBE_BACKEND_PORT`. It deploys APPS storm
// apps and the probe app, sends { marathon } once listening; on { storm: { events, ms } } it runs
// the storm and answers { result }.
import { importDist } from './lib/root.mjs';
import { deployVhostApp } from './lib/sim-apps.mjs';

const [apps, probePort] = process.argv.slice(2).map(Number);
const { MarathonSim, EventStorm } = await importDist('sim/index.js');
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
const storm = new EventStorm({ marathon: sim, apps, tasksPerApp: 2, seed: 1 });
storm.deploy();
deployVhostApp(sim, { id: '/bench/probe', vhost: 'probe.storm.example', port: probePort });
process.on('message', async ({ storm: run }) => {
  process.send({ result: await storm.run(run.events, run.ms) });
});
process.on('SIGTERM', () => process.exit(0));
process.send({ marathon });
