// autocannonLoad in a child process, so the load generator's memory and CPU stay out of the
// process being measured: fork with one JSON argument (autocannonLoad's options); it sends back
// the result and exits.
import { autocannonLoad } from './http-load.mjs';

const result = await autocannonLoad(JSON.parse(process.argv[2]));
process.send(result, () => process.exit(0));
