export { MarathonSim, type MarathonSimOptions } from './marathon-sim.js';
export { MarathonStandby } from './marathon-standby.js';
export { MesosMasterSim, type MesosMasterSimOptions, type SimMachineInput } from './mesos-master.js';
export type { SimAppInput, SimCredentials, SimPortInput, SimRequestRecord, SimTaskInput } from './types.js';
export { EventStorm, type EventStormOptions, type StormResult } from './event-storm.js';
export { LoadLoop, type LoadLoopOptions, type PhaseCount } from './load-loop.js';
export { MasterPause, type MasterPauseOptions, type MasterPauseResult } from './master-pause.js';
export { RollingUpgrade, type RollingUpgradeOptions, type RollingUpgradeResult } from './rolling-upgrade.js';
export { startSimBackend, type SimBackend } from './sim-backend.js';
