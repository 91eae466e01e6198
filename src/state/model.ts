/**
 * The cluster model shared by the Marathon client (which produces it from payloads), the state
 * (which keeps it) and the routing table builder (which reads it). Plain data, no behaviour.
 */

/** One port of an app: `portDefinitions[n]` (host networking) or `container.portMappings[n]`. */
export interface AppPort {
  /** Index n in the app's port list; labels like `HAPROXY_{n}_VHOST` refer to it. */
  readonly index: number;
  /** Cluster-wide service port (`portDefinitions[n].port` / `portMappings[n].servicePort`), 0 or absent when unset. */
  readonly servicePort?: number;
  /** Port inside the container; the one to dial for IP-per-task apps. */
  readonly containerPort?: number;
  /** `tcp`, `udp` or `udp,tcp` as Marathon writes it. */
  readonly protocol: string;
  readonly name?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface AppDef {
  /** Absolute app id, e.g. `/shop/web`. */
  readonly id: string;
  readonly version: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly AppPort[];
  /** `networks[].mode == "container"` (or pre-1.5 `ipAddress`): dial the task's IP and the container port. */
  readonly ipPerTask: boolean;
  /** Number of Marathon health checks; 0 means every TASK_RUNNING task is routable. */
  readonly healthChecks: number;
  /** Number of readiness checks; with a deployment running, tasks not ready get no traffic. */
  readonly readinessChecks: number;
  /** Ids of deployments in progress for this app. */
  readonly deployments: readonly string[];
}

export interface TaskDef {
  readonly id: string;
  /** Normalised instance key (see `instanceKey`), shared by the task id and its instance id. */
  readonly instanceKey: string;
  readonly appId: string;
  readonly host: string;
  /** Host ports, same order as the app's ports. Empty for reserved tasks. */
  readonly ports: readonly number[];
  readonly ipAddresses: readonly string[];
  /** Mesos state, e.g. `TASK_RUNNING`. */
  readonly state: string;
  readonly version?: string;
  readonly slaveId?: string;
  readonly zone?: string;
  readonly region?: string;
  readonly startedAt?: string;
  /** `alive` of each `healthCheckResults` entry; empty when Marathon reported none (yet). */
  readonly healthResults: readonly boolean[];
  /** From `readinessCheckResults`; undefined when no result names this task. */
  readonly ready?: boolean;
}

export interface AppSnapshot {
  readonly app: AppDef;
  readonly tasks: readonly TaskDef[];
}

/**
 * What one Marathon event means for the model. The Marathon client turns events into these;
 * the state applies them without waiting for a re-fetch.
 */
export type MarathonChange =
  | {
      readonly type: 'task-status';
      readonly appId: string;
      readonly taskId: string;
      readonly instanceKey: string;
      readonly state: string;
      readonly host?: string;
      readonly ports: readonly number[];
      readonly ipAddresses: readonly string[];
      readonly version?: string;
      /** The event's `timestamp` (Unix ms, Marathon's clock); absent when the event had none. */
      readonly at?: number;
    }
  | {
      /** `instance_changed_event`: condition is Running, Killing, Killed, Unreachable, ... */
      readonly type: 'instance-condition';
      readonly appId: string;
      readonly instanceKey: string;
      readonly condition: string;
      readonly host?: string;
      readonly at?: number;
    }
  | {
      /** One health check's result (`health_status_changed_event`, `failed_health_check_event`). */
      readonly type: 'health-check';
      readonly appId: string;
      readonly instanceKey: string;
      readonly alive: boolean;
      readonly at?: number;
    }
  | {
      /** Aggregated health of an instance (`instance_health_changed_event`); null = unknown. */
      readonly type: 'instance-health';
      readonly appId: string;
      readonly instanceKey: string;
      readonly healthy: boolean | null;
      readonly at?: number;
    }
  | {
      /** `unhealthy_instance_kill_event` / `unhealthy_task_kill_event`: Marathon is killing it. */
      readonly type: 'unhealthy-kill';
      readonly appId: string;
      readonly instanceKey: string;
    }
  | { readonly type: 'app-terminated'; readonly appId: string }
  | {
      /** Something about these apps changed in a way only a re-fetch can tell (definitions, deployments). */
      readonly type: 'apps-changed';
      readonly appIds: readonly string[];
      readonly reason: string;
    };

/** Health of a task as the state judges it. */
export type TaskHealth = 'healthy' | 'unhealthy' | 'unknown' | 'no-checks';

/** A task as the routing table builder sees it: the task plus the state's verdict. */
export interface TaskView {
  readonly task: TaskDef;
  readonly health: TaskHealth;
  /** True when it may receive new requests. */
  readonly routable: boolean;
  /** Why it is not routable (for `/routes`); for a routable suspect, why it is suspect; else absent. */
  readonly why?: string;
  /**
   * Routable, but with a smaller share of traffic: `lost` when Marathon lost contact with it
   * (TASK_UNREACHABLE, TASK_LOST, TASK_UNKNOWN), `held` when the removal guard holds back its removal.
   */
  readonly suspect?: 'lost' | 'held';
  /**
   * Not routable, but panic routing may use it: a running task failing its health checks (not one
   * in maintenance, being killed, not ready, or never seen healthy).
   */
  readonly panicRoutable?: true;
}

export interface AppView {
  readonly app: AppDef;
  readonly tasks: readonly TaskView[];
}
