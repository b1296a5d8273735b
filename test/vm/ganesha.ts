/**
 * NFS-Ganesha (FSAL VFS) as the lab's userspace NFS server: in its own
 * network namespace on the lab's LAN, in a private mount and PID namespace
 * with its own rpcbind and a private /run, exporting host directories over
 * NFSv3 and v4 (Mount_Path_Pseudo: the same paths for both). Per export the
 * squash (none / root / all) and the anonymous uid:gid the squashed access
 * becomes. The settings the lab found necessary on this machine:
 * Anonymous_Uid/Gid (Ganesha's default is 4294967294), Attr_Expiration_Time
 * = 0 (its attribute cache served a VM a stale file written on the host),
 * Only_Numeric_Owners (no idmapping: a VM's NFSv4 mount at boot went from ~21 s
 * to 2-3 s), Graceless (no 90 s grace period after each start).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { open, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START_SH = fileURLToPath(new URL('./ganesha-start.sh', import.meta.url));

export type Squash = 'none' | 'root' | 'all';

export interface GaneshaExport {
  /** Host directory. */
  path: string;
  /** The path clients mount (v3 and v4), e.g. `/picluster-boot`. */
  pseudo: string;
  squash: Squash;
  /** What squashed access becomes (default 65534:65534, nobody:nogroup). */
  anonUid?: number;
  anonGid?: number;
  /** Who may mount it (default: the lab's subnet). */
  clients?: string;
  /** Other squash rules for single clients (checked before the default), e.g. one per VM Pi. */
  perClient?: Array<{ client: string; squash: Squash; anonUid?: number; anonGid?: number }>;
}

const GANESHA_SQUASH: Record<Squash, string> = { none: 'No_Root_Squash', root: 'Root_Squash', all: 'All_Squash' };

function checkPath(what: string, p: string): string {
  if (!/^\/[\w./-]*$/.test(p) || p.includes('..')) throw new Error(`Ganesha ${what} ${JSON.stringify(p)}: an absolute path of letters, digits, . _ - /`);
  return p;
}

export function renderGaneshaConfig(o: { bindIp: string; subnet: string; recoveryRoot: string; exports: GaneshaExport[] }): string {
  const blocks = o.exports.map((e, i) => {
    const clients = e.clients ?? o.subnet;
    if (!/^[\d./]+$/.test(clients)) throw new Error(`Ganesha clients ${JSON.stringify(clients)}: an address or CIDR`);
    const special = (e.perClient ?? []).map((c) => {
      if (!/^[\d./]+$/.test(c.client)) throw new Error(`Ganesha client ${JSON.stringify(c.client)}: an address or CIDR`);
      return `    CLIENT {
        Clients = ${c.client};
        Access_Type = RW;
        Squash = ${GANESHA_SQUASH[c.squash]};
        Anonymous_Uid = ${c.anonUid ?? 65534};
        Anonymous_Gid = ${c.anonGid ?? 65534};
    }
`;
    });
    return `EXPORT {
    Export_Id = ${i + 1};
    Path = "${checkPath('path', e.path)}";
    Pseudo = "${checkPath('pseudo path', e.pseudo)}";
    Protocols = 3, 4;
    Transports = TCP, UDP;
    SecType = sys;
    Access_Type = None;
    Squash = ${GANESHA_SQUASH[e.squash]};
    Anonymous_Uid = ${e.anonUid ?? 65534};
    Anonymous_Gid = ${e.anonGid ?? 65534};
    Attr_Expiration_Time = 0;
${special.join('')}    CLIENT {
        Clients = ${clients};
        Access_Type = RW;
    }
    FSAL { Name = VFS; }
}
`;
  });
  return `# pinet VM lab (test/vm/ganesha.ts)
NFS_CORE_PARAM {
    Protocols = 3, 4;
    Mount_Path_Pseudo = true;
    Bind_addr = ${o.bindIp};
    Enable_NLM = false;
    Enable_RQUOTA = false;
}
NFSV4 {
    Graceless = true;
    Only_Numeric_Owners = true;
    RecoveryBackend = fs;
    RecoveryRoot = "${checkPath('recovery root', o.recoveryRoot)}";
}
LOG {
    Default_Log_Level = WARN;
}
${blocks.join('')}`;
}

/** A running Ganesha; `restart` replaces its exports (NFSv3 clients do not notice, v4 clients reclaim). */
export class Ganesha {
  private child: ChildProcess | null = null;
  private exitedP: Promise<void> = Promise.resolve();

  constructor(
    readonly netns: string,
    readonly ip: string,
    readonly subnet: string,
    readonly dir: string,
  ) {}

  get confFile(): string {
    return join(this.dir, 'ganesha.conf');
  }
  get logFile(): string {
    return join(this.dir, 'ganesha.log');
  }
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(exports: GaneshaExport[]): Promise<void> {
    await mkdir(join(this.dir, 'recovery'), { recursive: true });
    await writeFile(this.confFile, renderGaneshaConfig({ bindIp: this.ip, subnet: this.subnet, recoveryRoot: join(this.dir, 'recovery'), exports }));
    const out = await open(join(this.dir, 'ganesha.out'), 'a');
    try {
      const child = spawn(
        'nsenter',
        [`--net=/run/netns/${this.netns}`, '--', 'unshare', '--mount', '--pid', '--fork', '--kill-child', '--', 'sh', START_SH, this.confFile, this.logFile],
        { stdio: ['ignore', out.fd, out.fd] },
      );
      this.child = child;
      this.exitedP = new Promise((resolve) => child.once('exit', () => resolve()));
    } finally {
      await out.close();
    }
    await this.waitListening();
  }

  /** Until port 2049 answers (Ganesha starts in about a second). */
  private async waitListening(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exitedP.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) break;
      const ok = await new Promise<boolean>((resolve) => {
        const c = spawn('ip', ['netns', 'exec', this.netns, 'sh', '-c', 'exec ss -Hltn "sport = :2049"'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let text = '';
        c.stdout.on('data', (d: Buffer) => (text += d.toString()));
        c.on('close', () => resolve(text.includes('2049')));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = await readFile(this.logFile, 'utf8').catch(() => '');
    const out = await readFile(join(this.dir, 'ganesha.out'), 'utf8').catch(() => '');
    throw new Error(`NFS-Ganesha did not start listening on ${this.ip}:2049${exited ? ' (it exited)' : ''}\n${out.slice(-2000)}\n${log.slice(-3000)}`);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await this.exitedP;
    clearTimeout(t);
  }

  killNow(): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  async restart(exports: GaneshaExport[]): Promise<void> {
    await this.stop();
    await this.start(exports);
  }
}
