/**
 * What watch knows about the export while it reads the log: for each Pi
 * directory, the files its bootloader will request (from its config.txt, as
 * doctor computes them) and which of them are the kernel and initramfs, so
 * "the last boot file" is known; for each file, its size (the bytes a "sent"
 * line stands for), owner and mode (the words of a "Permission denied"
 * verdict).
 *
 * The engine asks synchronously (it is pure and fed line by line); the
 * runner fills the answers in before it feeds a line that needs them
 * (`ExportCatalog.prepare`). Tests use `StaticCatalog`.
 */

export interface DirInfo {
  dir: string;
  /** Files the bootloader requests that must be there (doctor's list), relative to the directory. */
  required: string[];
  /** The kernel, relative to the directory. */
  kernel?: string;
  /** The initramfs files (none when config.txt names none). */
  initramfs: string[];
  /** The board the list was computed for, and whether it was assumed (Pi not in the inventory). */
  board?: string;
  assumed?: boolean;
}

export interface FileFacts {
  size?: number;
  /** "root:root 0600". */
  owner?: string;
  mode?: string;
  /** Why the TFTP server's user cannot read it (doctor's words), when it cannot. */
  unreadable?: string;
}

export interface Catalog {
  /** The TFTP root, as dnsmasq's tftp-root says (or the export directory). */
  readonly root?: string;
  dir(name: string): DirInfo | undefined;
  /** Facts about an absolute path. */
  file(path: string): FileFacts | undefined;
  /** The user and group dnsmasq's TFTP server reads as, for the fixes ("dnsmasq"). */
  readonly tftpUser?: string;
}

/** A catalog from fixed answers (unit tests, and logs read without an export). */
export class StaticCatalog implements Catalog {
  constructor(
    private readonly dirs: Record<string, DirInfo> = {},
    private readonly files: Record<string, FileFacts> = {},
    readonly root?: string,
    readonly tftpUser?: string,
  ) {}

  dir(name: string): DirInfo | undefined {
    return Object.hasOwn(this.dirs, name) ? this.dirs[name] : undefined;
  }

  file(path: string): FileFacts | undefined {
    return Object.hasOwn(this.files, path) ? this.files[path] : undefined;
  }
}
