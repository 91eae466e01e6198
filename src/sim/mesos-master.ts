import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { sendJson, TrackedServer } from './http-util.js';
import type { SimRequestRecord } from './types.js';

/** A machine as Mesos names it; a string is an ip when it looks like one, else a hostname. */
export type SimMachineInput = string | { hostname?: string; ip?: string };

export interface MesosMasterSimOptions {
  /** Serve `POST /api/v1` (default true); false = a master from before the v1 operator API. */
  operatorApi?: boolean;
  /** Serve `GET /maintenance/status` (default true). */
  legacyStatus?: boolean;
}

interface Machine {
  hostname?: string;
  ip?: string;
  mode: 'DRAINING' | 'DOWN';
}

type Role = { kind: 'leader' } | { kind: 'standby'; leader: MesosMasterSim } | { kind: 'no-leader' };

/**
 * An in-process Mesos master that speaks only HTTP: the maintenance status on both endpoints,
 * the standby's 307 with a protocol-relative `Location` and the 503 of a cluster without a
 * leader. Machines are put in maintenance by hostname or ip, as operators do it.
 */
export class MesosMasterSim {
  /** Every request received, in order. */
  readonly requests: SimRequestRecord[] = [];
  private readonly http: TrackedServer;
  private readonly machines: Machine[] = [];
  private role: Role = { kind: 'leader' };

  constructor(private readonly opts: MesosMasterSimOptions = {}) {
    this.http = new TrackedServer(createServer((req, res) => this.handle(req, res)));
  }

  /** Base URL, e.g. `http://127.0.0.1:5050`; empty until `listen` resolves. */
  get url(): string {
    return this.http.url;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return this.http.listen(port, host);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** Schedules the machines for maintenance: DRAINING (a DOWN machine stays DOWN). */
  drain(...machines: SimMachineInput[]): void {
    for (const input of machines) {
      const id = machineId(input);
      if (!this.machines.some((m) => sameMachine(m, id))) this.machines.push({ ...id, mode: 'DRAINING' });
    }
  }

  /** Machines DOWN (`/machine/down`): listed as down, no longer as draining. */
  down(...machines: SimMachineInput[]): void {
    for (const input of machines) {
      const id = machineId(input);
      const known = this.machines.filter((m) => sameMachine(m, id));
      if (known.length === 0) this.machines.push({ ...id, mode: 'DOWN' });
      for (const machine of known) machine.mode = 'DOWN';
    }
  }

  /** Machines back UP (`/machine/up`, or removed from the schedule): no longer listed. */
  up(...machines: SimMachineInput[]): void {
    for (const input of machines) {
      const id = machineId(input);
      for (let i = this.machines.length - 1; i >= 0; i--) if (sameMachine(this.machines[i]!, id)) this.machines.splice(i, 1);
    }
  }

  /** This master leads (the default). */
  lead(): void {
    this.role = { kind: 'leader' };
  }

  /** This master is a standby: every maintenance call gets a 307 to `leader`. */
  follow(leader: MesosMasterSim): void {
    this.role = { kind: 'standby', leader };
  }

  /** No master leads: every maintenance call gets 503. */
  loseLeader(): void {
    this.role = { kind: 'no-leader' };
  }

  /** The status as `GET /maintenance/status` shows it: empty lists omitted, `{}` when none. */
  status(): Record<string, unknown> {
    const draining = this.machines.filter((m) => m.mode === 'DRAINING').map((m) => ({ id: idJson(m) }));
    const down = this.machines.filter((m) => m.mode === 'DOWN').map(idJson);
    return { ...(draining.length > 0 && { draining_machines: draining }), ...(down.length > 0 && { down_machines: down }) };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.answer(req, res, path.split('?', 1)[0]!, Buffer.concat(chunks).toString('utf8')));
  }

  private answer(req: IncomingMessage, res: ServerResponse, pathname: string, body: string): void {
    const operator = pathname === '/api/v1' && this.opts.operatorApi !== false;
    const legacy = pathname === '/maintenance/status' && this.opts.legacyStatus !== false;
    if (!operator && !legacy) {
      res.writeHead(404).end();
      return;
    }
    if (this.role.kind === 'no-leader') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('No leader elected');
      return;
    }
    if (this.role.kind === 'standby') {
      // Mesos names the leader protocol-relative: the client keeps its own scheme.
      res.writeHead(307, { location: `//${this.role.leader.url.slice('http://'.length)}${req.url ?? '/'}` }).end();
      return;
    }
    if (legacy) {
      if (req.method !== 'GET') res.writeHead(405, { allow: 'GET' }).end();
      else sendJson(res, 200, this.status());
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      res.writeHead(415, { 'content-type': 'text/plain' }).end('Expecting Content-Type: application/json or application/x-protobuf');
      return;
    }
    let call: unknown;
    try {
      call = JSON.parse(body);
    } catch {
      call = undefined;
    }
    if ((call as { type?: unknown } | undefined)?.type !== 'GET_MAINTENANCE_STATUS') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Failed to validate master::Call: this simulator only knows GET_MAINTENANCE_STATUS');
      return;
    }
    sendJson(res, 200, { type: 'GET_MAINTENANCE_STATUS', get_maintenance_status: { status: this.status() } });
  }
}

function machineId(input: SimMachineInput): { hostname?: string; ip?: string } {
  if (typeof input !== 'string') return input;
  return isIP(input) !== 0 ? { ip: input } : { hostname: input };
}

/** Mesos compares hostnames case-insensitively; either part naming the same machine is enough here. */
function sameMachine(machine: Machine, id: { hostname?: string; ip?: string }): boolean {
  if (id.hostname !== undefined && machine.hostname?.toLowerCase() === id.hostname.toLowerCase()) return true;
  return id.ip !== undefined && machine.ip === id.ip;
}

function idJson(machine: Machine): { hostname?: string; ip?: string } {
  return { ...(machine.hostname !== undefined && { hostname: machine.hostname }), ...(machine.ip !== undefined && { ip: machine.ip }) };
}
