/**
 * scripts/remote/lib/bootloader.sh: the bootloader config read where
 * rpi-eeprom-config reads it (the nvmem device the device tree's blconfig
 * alias names, else `vcgencmd bootloader_config`), run with the local `sh`
 * on a /sys laid out in a temporary directory, with a fake vcgencmd on PATH
 * that records each call.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const LIB = readFileSync(new URL('../../scripts/remote/lib/bootloader.sh', import.meta.url), 'utf8');
const CONFIG = '[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\n';
const VC_CONFIG = '[all]\nBOOT_ORDER=0xf14\n';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Layout {
  /** The blconfig alias (a device tree string, NUL-terminated), or none. */
  alias?: string;
  /** nvmem devices: name → [the node its of_node points at, the contents]. */
  devices?: Record<string, [string, Buffer | string]>;
  /** What the fake vcgencmd does: print and exit with a status. */
  vcgencmd?: { out: string; code: number };
}

function run(layout: Layout): { out: string; code: number; vcgencmdRan: boolean } {
  const root = mkdtempSync(join(tmpdir(), 'pinet-blconfig-'));
  made.push(root);
  const dt = join(root, 'sys/firmware/devicetree/base');
  mkdirSync(join(dt, 'aliases'), { recursive: true });
  mkdirSync(join(dt, 'reserved-memory/nvram@0'), { recursive: true });
  mkdirSync(join(dt, 'reserved-memory/other@1'), { recursive: true });
  if (layout.alias !== undefined) writeFileSync(join(dt, 'aliases/blconfig'), `${layout.alias}\0`);
  for (const [name, [node, data]] of Object.entries(layout.devices ?? {})) {
    const dev = join(root, 'sys/bus/nvmem/devices', name);
    mkdirSync(dev, { recursive: true });
    symlinkSync(join(dt, node), join(dev, 'of_node'));
    writeFileSync(join(dev, 'nvmem'), data);
  }
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const vc = layout.vcgencmd ?? { out: VC_CONFIG, code: 0 };
  writeFileSync(join(root, 'vc.out'), vc.out);
  writeFileSync(join(bin, 'vcgencmd'), `#!/bin/sh\n[ "$1" = bootloader_config ] || exit 9\ntouch "${root}/vc.ran"\ncat "${root}/vc.out"\nexit ${vc.code}\n`, { mode: 0o755 });
  const r = spawnSync('sh', ['-c', `${LIB}\ncurrent_bootloader_config "$1"`, 'sh', root], {
    env: { PATH: `${bin}:/usr/bin:/bin` },
    encoding: 'utf8',
  });
  return { out: r.stdout, code: r.status ?? -1, vcgencmdRan: existsSync(join(root, 'vc.ran')) };
}

describe('current_bootloader_config (lib/bootloader.sh)', () => {
  it('reads the nvmem device the blconfig alias names (NUL padding dropped), without vcgencmd', () => {
    const padded = Buffer.concat([Buffer.from(CONFIG), Buffer.alloc(64)]);
    const r = run({
      alias: '/reserved-memory/nvram@0',
      devices: { rmem0: ['reserved-memory/other@1', 'not this one\n'], rmem1: ['reserved-memory/nvram@0', padded] },
    });
    expect(r).toEqual({ out: CONFIG, code: 0, vcgencmdRan: false });
  });

  it('without the alias (older firmware, the fake fleet): vcgencmd bootloader_config', () => {
    expect(run({ devices: { rmem0: ['reserved-memory/nvram@0', CONFIG] } })).toEqual({ out: VC_CONFIG, code: 0, vcgencmdRan: true });
  });

  it('an alias no device matches: vcgencmd, as rpi-eeprom-config falls back', () => {
    expect(run({ alias: '/reserved-memory/nvram@0', devices: { rmem0: ['reserved-memory/other@1', 'wrong\n'] } })).toMatchObject({ out: VC_CONFIG, code: 0 });
  });

  it('vcgencmd failing, or answering with an error, is "ask rpi-eeprom-config" (status 1, nothing printed)', () => {
    expect(run({ vcgencmd: { out: 'error=2 error_msg="Command not registered"\n', code: 2 } })).toEqual({ out: '', code: 1, vcgencmdRan: true });
    expect(run({ vcgencmd: { out: 'error=2 error_msg="Command not registered"\n', code: 0 } })).toMatchObject({ out: '', code: 1 });
    expect(run({ vcgencmd: { out: '', code: 0 } })).toMatchObject({ out: '', code: 1 });
  });

  it('ends with a newline even when the config does not, and keeps the text otherwise byte for byte', () => {
    expect(run({ vcgencmd: { out: 'BOOT_ORDER=0xf21', code: 0 } }).out).toBe('BOOT_ORDER=0xf21\n');
    const odd = '[all]\n# a comment with $HOME, `quotes` and "$(x)"\nBOOT_ORDER=0xf241\n\n';
    expect(run({ vcgencmd: { out: odd, code: 0 } }).out).toBe(odd);
  });
});
