// Reading a V8 .cpuprofile (node --cpu-prof): self time per function and per area of code.

/** Where a frame's code lives: a baton file, a package, a node module, or a V8 pseudo-frame. */
function areaOf({ url, functionName }) {
  if (url === '') return functionName; // (garbage collector), (program), (idle), (root)
  if (url.startsWith('node:')) return url;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `baton ${dist[1]}`;
  return url;
}

/**
 * Self time of every function and area, busiest first, without (idle). `busyUs` is the sampled
 * time that was not idle; shares are of it.
 */
export function summarizeProfile(profile) {
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0)));
  const functions = new Map();
  const areas = new Map();
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const frame = node.callFrame;
    if (us === 0 || frame.functionName === '(idle)') continue;
    busyUs += us;
    const area = areaOf(frame);
    const key = `${frame.functionName || '(anonymous)'} ${area}:${frame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const ranked = (map) => [...map].map(([name, us]) => ({ name, us, share: us / busyUs })).sort((a, b) => b.us - a.us);
  return { busyUs, functions: ranked(functions), areas: ranked(areas) };
}
