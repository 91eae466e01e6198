export { MarathonSim, type MarathonSimOptions } from './marathon-sim.js';
export { MarathonStandby } from './marathon-standby.js';
export type { SimAppInput, SimCredentials, SimPortInput, SimRequestRecord, SimTaskInput } from './types.js';
