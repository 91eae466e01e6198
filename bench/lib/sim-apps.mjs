// The apps the benchmarks deploy through baton's Marathon simulator, one task each on 127.0.0.1.

/** An HTTP app served at `vhost` by the backend on `port`. */
export function deployVhostApp(sim, { id, vhost, port }) {
  sim.deployApp({ id, labels: { BATON_0_VHOST: vhost } });
  sim.startTask(id, { host: '127.0.0.1', ports: [port] });
}

/** A TCP app: baton's service port `servicePorts[i]` forwards to the backend port `ports[i]`. */
export function deployTcpApp(sim, { id, servicePorts, ports }) {
  const labels = {};
  servicePorts.forEach((port, i) => {
    labels[`BATON_${i}_PROTOCOL`] = 'tcp';
    labels[`BATON_${i}_PORT`] = String(port);
  });
  sim.deployApp({ id, labels, portDefinitions: ports.map(() => ({ protocol: 'tcp' })) });
  sim.startTask(id, { host: '127.0.0.1', ports });
}
