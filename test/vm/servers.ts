/**
 * Server VMs of the lab: disk-root VMs booting the image's kernel with the
 * root file system on a virtio disk (a qcow2 overlay of the lab image, so
 * every role has the same packages): the kernel NFS server
 * (nfs-kernel-server, exports given by the test) and a boot server that
 * mounts an export over real NFS (fstab, _netdev, as the article does), runs
 * dnsmasq with its TFTP root on that mount, and runs pinet with the host's
 * node and the checkout, both shared read-only over 9p (live: no image
 * rebuild when pinet changes, and the host's node binary runs as is on the
 * same Debian release).
 */
import { dirname, join } from 'node:path';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sh } from './lab.js';
import type { VmLab } from './lab.js';
import { LabVm } from './vm.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerVmOptions {
  name: string;
  /** Host part of its address on the lab LAN (5-9 are meant for servers). */
  host: number;
  memMB?: number;
  /** Share the host's node and this checkout (read-only 9p at /opt/host-node and /opt/pinet). */
  pinet?: boolean;
}

export class ServerVm {
  private constructor(readonly vm: LabVm, readonly disk: string, readonly opts: ServerVmOptions) {}

  static async start(lab: VmLab, opts: ServerVmOptions): Promise<ServerVm> {
    if (!Number.isInteger(opts.host) || opts.host < 4 || opts.host > 19) throw new Error(`server VM host part ${opts.host}: use 4-19`);
    const mac = `52:54:00:76:${lab.octet.toString(16).padStart(2, '0')}:${opts.host.toString(16).padStart(2, '0')}`;
    const vm = new LabVm(lab, opts.name, mac, lab.addr(opts.host));
    if (opts.memMB) vm.memMB = opts.memMB;
    lab.addName(vm.ip, opts.name);
    await vm.prepare();
    const disk = join(vm.dir, 'disk.qcow2');
    await sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', lab.image.sdRaw, '-F', 'raw', disk]);
    const s = new ServerVm(vm, disk, opts);
    await s.boot();
    return s;
  }

  get name(): string {
    return this.vm.name;
  }
  get ip(): string {
    return this.vm.ip;
  }

  /** Start QEMU (returns at once; waitForSsh() for the answer). */
  async boot(): Promise<void> {
    const { rootfs, kernels } = this.vm.lab.image;
    const shares = this.opts.pinet
      ? [
          { tag: 'hostnode', path: dirname(realpathSync(process.execPath)), readonly: true },
          { tag: 'pinet', path: PROJECT_ROOT.replace(/\/$/, ''), readonly: true },
        ]
      : [];
    await this.vm.start(
      {
        kernel: join(rootfs, 'boot', `vmlinuz-${kernels.old}`),
        initrd: join(rootfs, 'boot', `initrd.img-${kernels.old}`),
        cmdline: 'root=LABEL=writable rootfstype=ext4 rw',
        disk: { file: this.disk, format: 'qcow2', as: 'virtio' },
        shares,
      },
      this.vm.identity(),
    );
  }

  async waitForSsh(timeoutMs?: number): Promise<number> {
    const ms = await this.vm.waitForSsh(timeoutMs);
    if (this.opts.pinet) {
      await this.vm.run(
        [
          'set -e',
          'mkdir -p /opt/host-node /opt/pinet',
          'mountpoint -q /opt/host-node || mount -t 9p -o trans=virtio,version=9p2000.L,ro hostnode /opt/host-node',
          'mountpoint -q /opt/pinet || mount -t 9p -o trans=virtio,version=9p2000.L,ro pinet /opt/pinet',
          'ln -sf /opt/host-node/node /usr/local/bin/node',
          "printf '#!/bin/sh\\nexec node /opt/pinet/bin/pinet.js \"$@\"\\n' > /usr/local/bin/pinet",
          'chmod 0755 /usr/local/bin/pinet',
        ].join('\n'),
      );
    }
    return ms;
  }

  ssh(command: string, opts: Parameters<LabVm['ssh']>[1] = {}) {
    return this.vm.ssh(command, opts);
  }
  run(command: string, opts: Parameters<LabVm['run']>[1] = {}) {
    return this.vm.run(command, opts);
  }

  async stop(): Promise<void> {
    await this.vm.stop();
  }
}
