/**
 * Messages between a fleet (in the test or bench process) and its daemon
 * (the process that supervises the Pis and relays their SSH ports): one JSON
 * document per line on the daemon's stdin and stdout.
 */
export interface DaemonPi {
  index: number;
  name: string;
  netns: string;
  ip: string;
  /** File descriptor of the host-side listening socket, inherited by the daemon. */
  fd: number;
}

export interface DaemonConfig {
  fleetId: string;
  /** Host path over which the daemon's holder mounts the fleet's tmpfs. */
  stateDir: string;
  tmpfsBytes: number;
  assetsDir: string;
  pis: DaemonPi[];
  /** What the daemon removes itself if the fleet's process vanishes without stopping it. */
  orphan: { netns: string[]; paths: string[] };
}

export type PiState = 'off' | 'booting' | 'up' | 'failed';

export interface PiStatus {
  state: PiState;
  /** Completed boots (1 after the first). */
  boot: number;
  /** Host PID of the Pi's PID 1, while it runs. */
  initPid: number | null;
  error?: string;
}

export type Request =
  | { id: number; op: 'boot'; pis: number[] }
  | { id: number; op: 'status'; pi: number }
  | { id: number; op: 'waitBoot'; pi: number; after: number; timeoutMs: number }
  | { id: number; op: 'reboot'; pi: number }
  | { id: number; op: 'powerOff'; pi: number }
  | { id: number; op: 'powerOn'; pi: number }
  | { id: number; op: 'cut'; pi: number; mode: 'reset' | 'blackhole' }
  | { id: number; op: 'throttle'; pi: number; bytesPerSecond: number | null }
  | { id: number; op: 'block'; pi: number; mode: 'drop' | 'reset' | null }
  | { id: number; op: 'stats'; pi: number }
  | { id: number; op: 'shutdown' };

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type DaemonEvent =
  | { event: 'holder'; pid: number }
  | { event: 'booted'; pi: number; boot: number; initPid: number }
  | { event: 'failed'; pi: number; reason: string };
