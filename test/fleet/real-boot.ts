/**
 * Real-size boot partitions for the fake Pis: the file names, counts and
 * sizes of Ubuntu 24.04's `system-boot` and Raspberry Pi OS Bookworm's
 * (arm64) `bootfs`, with generated contents. A file's bytes depend only on
 * what it is (the firmware release, or the kernel version it came with), never
 * on the Pi: two Pis on the same image and kernel have byte-identical files,
 * a Pi on another kernel differs in its kernel, initramfs, device trees and
 * overlays, and only the per-Pi text files (cmdline.txt with the Pi's
 * PARTUUID, cloud-init's user-data with its hostname) differ on every Pi.
 * Pure data and pure functions; fleet.ts stores each distinct file once.
 *
 * Sources (checked 2025; sizes are of real files, rounded as the listings
 * round them):
 *  - Bookworm arm64: the bootfs listing of a 2025 Raspberry Pi OS (Bookworm,
 *    arm64) card in github.com/gcu-merk/CST_590_Computer_Science_Capstone_Project
 *    (References appendix, "Raspberry Pi SD Card File Structure"): 20 device
 *    trees, 358 overlays + overlay_map.dtb + hat_map.dtb + README,
 *    start*.elf/fixup*.dat of the raspi-firmware package, kernel8.img and
 *    kernel_2712.img (9.50 MB each), initramfs8 and initramfs_2712
 *    (12.71 MB each). pi-gen's bookworm-arm64 branch
 *    (stage0/02-firmware/01-packages) installs exactly two kernels,
 *    linux-image-rpi-v8 and linux-image-rpi-2712; four kernels (kernel.img,
 *    kernel7.img, kernel7l.img, kernel8.img) are the 32-bit image's. Total
 *    about 68 MiB.
 *  - Ubuntu 24.04 (ubuntu-24.04-preinstalled-server-arm64+raspi): the file
 *    list of a freshly written image (mauromorales.com, "How does a
 *    Raspberry Pi 5 boot an image?", 2024: README, 14 device trees, boot.scr,
 *    bootcode.bin, cmdline.txt, config.txt, fixup*.dat, initrd.img,
 *    meta-data, network-config, overlays, start*.elf, user-data, vmlinuz;
 *    17 % of the 512 MiB partition used, ~86 MiB); canonical/pi-gadget pull
 *    request 88 (2022): flash-kernel keeps two sets of boot assets, every
 *    file it installs also as `<file>.bak`, and sizes kernel ~10 MB, initrd
 *    ~57 MB, other boot assets ~23 MB. vmlinuz (10.2 MiB) and initrd.img
 *    (52.5 MiB) are set so that one set matches the image's 86 MiB; with the
 *    .bak set (firmware, device trees, vmlinuz, initrd.img) the partition
 *    holds about 170 MiB. Overlays use the Bookworm list (the kernel ships
 *    them; no .bak copies, as far as the sources show).
 *  - Firmware sizes (start*.elf, fixup*.dat, bootcode.bin): the same Bookworm
 *    listing; Ubuntu's linux-firmware-raspi ships the same files.
 */
import type { Board } from './boards.js';
import type { OsName } from './os-images.js';

/** Which boot partition a fake Pi gets: today's small one (`bootFilesMB`), or the real layout and sizes. */
export type BootImage = 'small' | 'real';

/** A boot partition file whose bytes depend only on `label`: identical on every Pi that has it. */
export interface SharedBootFile {
  path: string;
  size: number;
  mode: number;
  label: string;
}

export interface TextBootFile {
  path: string;
  text: string;
  mode: number;
}

export interface RealBootLayout {
  shared: SharedBootFile[];
  text: TextBootFile[];
}

/** The kernels a Pi's real boot partition holds. */
export interface RealKernels {
  version: string;
  /** The kernel before the last upgrade (Ubuntu keeps it as the .bak set), or null for none. */
  previous: string | null;
  /** Whether the Pi built its initramfs itself (update-initramfs on an upgrade): then its bytes are its own. */
  ownInitramfs: boolean;
}

const KB = 1024;
const MB = 1024 * 1024;

/** Operating systems with a real layout. */
export const REAL_BOOT_OSES: readonly OsName[] = ['ubuntu-2404', 'rpios-bookworm'];

/** start*.elf, fixup*.dat and bootcode.bin (sizes of the 2025 raspi-firmware files). */
const FIRMWARE: ReadonlyArray<[string, number]> = [
  ['bootcode.bin', Math.round(51.25 * KB)],
  ['fixup.dat', Math.round(7.15 * KB)],
  ['fixup_cd.dat', Math.round(3.15 * KB)],
  ['fixup_db.dat', Math.round(10.05 * KB)],
  ['fixup_x.dat', Math.round(10.05 * KB)],
  ['fixup4.dat', Math.round(5.33 * KB)],
  ['fixup4cd.dat', Math.round(3.15 * KB)],
  ['fixup4db.dat', Math.round(8.25 * KB)],
  ['fixup4x.dat', Math.round(8.25 * KB)],
  ['start.elf', Math.round(2.85 * MB)],
  ['start_cd.elf', Math.round(795.06 * KB)],
  ['start_db.elf', Math.round(4.61 * MB)],
  ['start_x.elf', Math.round(3.56 * MB)],
  ['start4.elf', Math.round(2.16 * MB)],
  ['start4cd.elf', Math.round(795.06 * KB)],
  ['start4db.elf', Math.round(3.59 * MB)],
  ['start4x.elf', Math.round(2.87 * MB)],
];

/** Device trees of a 2025 Bookworm arm64 bootfs (KiB as listed). */
const BOOKWORM_DTBS: ReadonlyArray<[string, number]> = (
  [
    ['bcm2710-rpi-2-b.dtb', 31.73], ['bcm2710-rpi-3-b.dtb', 33.87], ['bcm2710-rpi-3-b-plus.dtb', 34.49],
    ['bcm2710-rpi-cm0.dtb', 32.89], ['bcm2710-rpi-cm3.dtb', 31.5], ['bcm2710-rpi-zero-2.dtb', 32.88],
    ['bcm2710-rpi-zero-2-w.dtb', 32.88], ['bcm2711-rpi-400.dtb', 54.92], ['bcm2711-rpi-4-b.dtb', 54.92],
    ['bcm2711-rpi-cm4.dtb', 55.43], ['bcm2711-rpi-cm4-io.dtb', 38.98], ['bcm2711-rpi-cm4s.dtb', 52.25],
    ['bcm2712d0-rpi-5-b.dtb', 76.6], ['bcm2712-d-rpi-5-b.dtb', 76.59], ['bcm2712-rpi-500.dtb', 76.55],
    ['bcm2712-rpi-5-b.dtb', 76.6], ['bcm2712-rpi-cm5-cm4io.dtb', 77.29], ['bcm2712-rpi-cm5-cm5io.dtb', 77.36],
    ['bcm2712-rpi-cm5l-cm4io.dtb', 77.33], ['bcm2712-rpi-cm5l-cm5io.dtb', 77.4],
  ] as Array<[string, number]>
).map(([name, kib]) => [name, Math.round(kib * KB)]);

/** The 14 device trees of Ubuntu 24.04's system-boot (sizes as the same boards' Bookworm ones). */
const UBUNTU_DTBS: ReadonlyArray<[string, number]> = [
  'bcm2710-rpi-2-b.dtb', 'bcm2710-rpi-3-b-plus.dtb', 'bcm2710-rpi-3-b.dtb', 'bcm2710-rpi-cm3.dtb',
  'bcm2710-rpi-zero-2-w.dtb', 'bcm2710-rpi-zero-2.dtb', 'bcm2711-rpi-4-b.dtb', 'bcm2711-rpi-400.dtb',
  'bcm2711-rpi-cm4.dtb', 'bcm2711-rpi-cm4s.dtb', 'bcm2712-rpi-5-b.dtb', 'bcm2712-rpi-cm5-cm4io.dtb',
  'bcm2712-rpi-cm5-cm5io.dtb', 'bcm2712d0-rpi-5-b.dtb',
].map((name) => [name, BOOKWORM_DTBS.find(([n]) => n === name)![1]]);

/** overlays/<name>.dtbo and its size in bytes, as listed on the Bookworm card. */
const OVERLAYS = `
act-led:589 adafruit18:1628 adafruit-st7735r:2284 adau1977-adc:1044 adau7002-simple:1597 ads1015:2519
ads1115:4035 ads7846:2540 adv7282m:1802 adv728x-m:2294 akkordion-iqdacplus:1403
allo-boss2-dac-audio:1843 allo-boss-dac-pcm512x-audio:1659 allo-digione:1219 allo-katana-dac-audio:1700
allo-piano-dac-pcm512x-audio:1024 allo-piano-dac-plus-pcm512x-audio:1649 anyspi:3891 apds9960:1321
applepi-dac:1464 arducam-64mp:3564 arducam-pivariety:3092 at86rf233:1628 audioinjector-addons:1874
audioinjector-bare-i2s:1516 audioinjector-isolated-soundcard:1618 audioinjector-ultra:1905
audioinjector-wm8731-audio:800 audiosense-pi:2202 audremap:1157 audremap-pi5:1833 balena-fin:2939
bcm2712d0:1362 camera-mux-2port:28754 camera-mux-4port:54139 cap1106:1311 chipcap2:1874 chipdip-dac:1249
cirrus-wm5102:4096 cma:964 cm-swap-i2c0:1178 crystalfontz-cfa050_pi_m:3625 cutiepi-panel:3482
dacberry400:1935 dht11:1280 dionaudio-kiwi:672 dionaudio-loco:676 dionaudio-loco-v2:1044 disable-bt:1075
disable-bt-pi5:271 disable-emmc2:267 disable-wifi:387 disable-wifi-pi5:267 dpi18:951 dpi18cpadhi:532
dpi24:975 draws:6093 dwc2:801 dwc-otg:293 dwc-otg-deprecated:293 edt-ft5406:2652 enc28j60:1403
enc28j60-spi2:1280 exc3000:1567 ezsound-6x8iso:3768 fbtft:12759 fe-pi-audio:1915 fsm-demo:1956
gc9a01:2560 ghost-amp:3277 goodix:1608 googlevoicehat-soundcard:1270 gpio-charger:1188 gpio-fan:1454
gpio-hog:621 gpio-ir:1260 gpio-ir-tx:1096 gpio-key:1372 gpio-led:1300 gpio-no-bank0-irq:274
gpio-no-irq:258 gpio-poweroff:1188 gpio-shutdown:1464 hd44780-i2c-lcd:1956 hd44780-lcd:1659
hdmi-backlight-hwhack-gpio:1167 hifiberry-adc:1178 hifiberry-adc8x:1188 hifiberry-amp:792
hifiberry-amp100:2263 hifiberry-amp3:1464 hifiberry-amp4pro:1925 hifiberry-dac:668 hifiberry-dac8x:1280
hifiberry-dacplus:2099 hifiberry-dacplusadc:1987 hifiberry-dacplusadcpro:2263 hifiberry-dacplusdsp:712
hifiberry-dacplushd:1659 hifiberry-dacplus-pro:1905 hifiberry-dacplus-std:1894 hifiberry-digi:972
hifiberry-digi-pro:1137 highperi:1075 hy28a:2447 hy28b:2918 hy28b-2017:2898 i2c0:1782 i2c0-pi5:931
i2c1:1004 i2c1-pi5:935 i2c2-pi5:815 i2c3:811 i2c3-pi5:937 i2c4:811 i2c5:815 i2c6:813 i2c-bcm2708:270
i2c-fan:3666 i2c-gpio:1055 i2c-mux:3881 i2c-pwm-pca9685a:2150 i2c-rtc:9288 i2c-rtc-gpio:8356
i2c-sensor:19876 i2s-dac:656 i2s-gpio28-31:307 i2s-master-dac:1423 ilitek251x:1495 imx219:3697
imx258:4311 imx283:3533 imx290:3871 imx296:3697 imx327:3871 imx335:3738 imx378:3799 imx415:4188
imx462:3871 imx477:3799 imx500:4690 imx500-pi5:5038 imx519:3482 imx708:4055 interludeaudio-analog:2007
interludeaudio-digital:1434 iqaudio-codec:908 iqaudio-dac:1280 iqaudio-dacplus:1526
iqaudio-digi-wm8804-audio:1341 iqs550:1812 irs1125:2796 i-sabre-q2m:906 jedec-spi-nor:4495
justboom-both:1649 justboom-dac:1290 justboom-digi:968 ltc294x:1915 max98357a:1946 maxtherm:4362
mbed-dac:1618 mcp23017:3185 mcp23s17:15206 mcp2515:3840 mcp2515-can0:1792 mcp2515-can1:1792
mcp251xfd:6431 mcp3008:4311 mcp3202:4209 mcp342x:2857 media-center:2499 merus-amp:1720 midi-uart0:716
midi-uart0-pi5:808 midi-uart1:857 midi-uart1-pi5:808 midi-uart2:716 midi-uart2-pi5:808 midi-uart3:716
midi-uart3-pi5:808 midi-uart4:716 midi-uart4-pi5:808 midi-uart5:716 minipitft13:1782 miniuart-bt:1567
mipi-dbi-spi:5161 mira220:3000 mlx90640:549 mmc:1219 mz61581:2826 ov2311:2929 ov5647:3502 ov64a40:3533
ov7251:2970 ov9281:3461 papirus:2335 pca953x:4116 pcf857x:2509 pcie-32bit-dma:438 pcie-32bit-dma-pi5:346
pciex1-compat-pi5:851 pibell:2345 pifacedigital:1710 pifi-40:1393 pifi-dac-hd:1208 pifi-dac-zero:1178
pifi-mini-210:971 piglow:1597 pimidi:1137 pineboards-hat-ai:299 pineboards-hatdrive-poe-plus:328
piscreen:3000 piscreen2r:2591 pisound:2365 pisound-micro:2970 pisound-pi5:2365 pitft22:1690
pitft28-capacitive:2458 pitft28-resistive:3113 pitft35-resistive:3215 pivision:4321 pps-gpio:1188
proto-codec:784 pwm:948 pwm1:1495 pwm-2chan:1055 pwm-gpio:1006 pwm-gpio-fan:3553 pwm-ir-tx:1034
pwm-pio:1010 qca7000:1393 qca7000-uart0:1126 ramoops:737 ramoops-pi4:741 rootmaster:1987
rotary-encoder:1925 rpi-backlight:489 rpi-codeczero:1055 rpi-dacplus:1413 rpi-dacpro:1423
rpi-digiampplus:1741 rpi-ft5406:842 rpi-fw-uart:1393 rpi-poe:4332 rpi-poe-plus:4915 rpi-sense:1536
rpi-sense-v2:1536 rpi-tv:567 rra-digidac1-wm8741-audio:1311 sainsmart18:1423 sc16is750-i2c:3215
sc16is750-spi0:1761 sc16is752-i2c:3215 sc16is752-spi0:1761 sc16is752-spi1:2161 sc16is75x-spi:4178
sdhost:968 sdio:1884 sdio-pi5:660 seeed-can-fd-hat-v1:3389 seeed-can-fd-hat-v2:2724 sh1106-spi:2099
si446x-spi0:1423 smi:981 smi-dev:404 smi-nand:1475 spi0-0cs:794 spi0-1cs:1044 spi0-1cs-inverted:1167
spi0-2cs:1044 spi1-1cs:1526 spi1-2cs:1894 spi1-3cs:2273 spi2-1cs:1526 spi2-1cs-pi5:892 spi2-2cs:1894
spi2-2cs-pi5:1239 spi2-3cs:2273 spi3-1cs:1126 spi3-1cs-pi5:892 spi3-2cs:1505 spi3-2cs-pi5:1239
spi4-1cs:1126 spi4-2cs:1505 spi5-1cs:1126 spi5-1cs-pi5:892 spi5-2cs:1505 spi5-2cs-pi5:1239 spi6-1cs:1126
spi6-2cs:1505 spi-gpio35-39:630 spi-gpio40-45:795 spi-rtc:2048 ssd1306:1126 ssd1306-spi:2161
ssd1327-spi:1690 ssd1331-spi:2048 ssd1351-spi:2048 sunfounder-pipower3:1157 sunfounder-pironman5:1382
superaudioboard:1976 sx150x:35574 tc358743:3011 tc358743-audio:1546 tc358743-pi5:2847 tinylcd35:4823
tpm-slb9670:779 tpm-slb9673:1065 uart0:936 uart0-pi5:627 uart1:988 uart1-pi5:627 uart2:1016
uart2-pi5:627 uart3:1016 uart3-pi5:627 uart4:1016 uart4-pi5:627 uart5:1016 udrc:3543
ugreen-dabboard:1536 upstream:2079 upstream-pi4:2775 vc4-fkms-v3d:1556 vc4-fkms-v3d-pi4:1556
vc4-kms-dpi-generic:6001 vc4-kms-dpi-hyperpixel2r:3277 vc4-kms-dpi-hyperpixel4:3850
vc4-kms-dpi-hyperpixel4sq:3369 vc4-kms-dpi-panel:4229 vc4-kms-dsi-7inch:4219 vc4-kms-dsi-generic:3133
vc4-kms-dsi-ili9881-5inch:3389 vc4-kms-dsi-ili9881-7inch:3451 vc4-kms-dsi-lt070me05000:1884
vc4-kms-dsi-lt070me05000-v2:1536 vc4-kms-dsi-waveshare-800x480:4106 vc4-kms-dsi-waveshare-panel:4966
vc4-kms-dsi-waveshare-panel-v2:3246 vc4-kms-kippah-7inch:3512 vc4-kms-v3d:2765 vc4-kms-v3d-pi4:3912
vc4-kms-v3d-pi5:3348 vc4-kms-vga666:2324 vga666:758 vl805:352 w1-gpio:1034 w1-gpio-pi5:1167
w1-gpio-pullup:1167 w1-gpio-pullup-pi5:1300 w5500:1556 watterott-display:4086
waveshare-can-fd-hat-mode-a:3389 waveshare-can-fd-hat-mode-b:2509 wifimac:529 wittypi:1055
wm8960-soundcard:2365 ws2812-pio:1362
`
  .trim()
  .split(/\s+/)
  .map((entry) => {
    const [name, size] = entry.split(':');
    return [`overlays/${name}.dtbo`, Number(size)] as [string, number];
  });

const OVERLAY_EXTRAS: ReadonlyArray<[string, number]> = [
  ['overlays/README', Math.round(266.76 * KB)],
  ['overlays/overlay_map.dtb', Math.round(5.81 * KB)],
  ['overlays/hat_map.dtb', Math.round(2.24 * KB)],
];

/** Kernel and initramfs sizes in the boot partition. */
export const REAL_KERNEL_SIZES: Readonly<Record<'ubuntu-2404' | 'rpios-bookworm', { kernel: number; initramfs: number }>> = {
  'ubuntu-2404': { kernel: Math.round(10.2 * MB), initramfs: Math.round(52.5 * MB) },
  'rpios-bookworm': { kernel: Math.round(9.5 * MB), initramfs: Math.round(12.71 * MB) },
};

/** Bookworm's kernel versions name a flavour (`6.6.51+rpt-rpi-v8`); the kernel8 and 2712 files come from the same release. */
function release(version: string): string {
  return version.replace(/-rpi-(v8|2712|v7l?|v6)$/, '');
}

/** The labels of the boot partition's kernel and initramfs for a kernel version (and the Pi, when it built its own initramfs). */
export function realKernelLabels(os: OsName, board: Board, version: string, initramfsOwner: string | null): { kernel: string; initramfs: string } {
  const own = initramfsOwner === null ? '' : `/built-on/${initramfsOwner}`;
  if (os === 'ubuntu-2404') return { kernel: `real/${os}/${version}/vmlinuz`, initramfs: `real/${os}/${version}/initrd.img${own}` };
  const flavour = board.eepromChip === '2712' ? '2712' : '8';
  const r = release(version);
  return flavour === '2712'
    ? { kernel: `real/${os}/${r}/kernel_2712.img`, initramfs: `real/${os}/${r}/initramfs_2712${own}` }
    : { kernel: `real/${os}/${r}/kernel8.img`, initramfs: `real/${os}/${r}/initramfs8${own}` };
}

/** The kernel version before `version` (Ubuntu's ABI number, or Raspberry Pi OS's patch level, minus one). */
export function previousKernelVersion(version: string): string {
  const ubuntu = /^(\d+\.\d+\.\d+)-(\d+)-(raspi)$/.exec(version);
  if (ubuntu && Number(ubuntu[2]) > 0) return `${ubuntu[1]}-${Number(ubuntu[2]) - 1}-${ubuntu[3]}`;
  const rpi = /^(\d+\.\d+)\.(\d+)(\+.*)$/.exec(version);
  if (rpi && Number(rpi[2]) > 0) return `${rpi[1]}.${Number(rpi[2]) - 1}${rpi[3]}`;
  return `${version}~prev`;
}

const UBUNTU_META_DATA = '# This is the meta-data configuration file for cloud-init. Please refer to\n# the cloud-init documentation for more information:\n#\n# https://cloudinit.readthedocs.io/\n\n# Set the datasource mode to "local". This ensures that user-data is acted\n# upon prior to bringing up the network (because everything about the\n# datasource is assumed to be local).\ndsmode: local\n\n# Specifies the "unique" identifier of the instance. Typically in cloud-init\n# this is generated by the owning cloud and is actually unique (to some\n# degree). Here our data-source is local, so this is just a fixed string.\ninstance_id: cloud-image\n';

const UBUNTU_NETWORK_CONFIG = '# This file contains a netplan-compatible configuration which cloud-init will\n# apply on first-boot (note: it will *not* update the config after the first\n# boot). Please refer to the cloud-init documentation and the netplan reference\n# for full details.\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      optional: true\n';

/** cloud-init's user-data as Raspberry Pi Imager writes it for one card (its hostname). */
function ubuntuUserData(hostname: string): string {
  return `#cloud-config\n# Written by Raspberry Pi Imager for this card.\nhostname: ${hostname}\nmanage_etc_hosts: true\npackages:\n- avahi-daemon\napt:\n  conf: |\n    Acquire {\n      Check-Date "false";\n    };\nusers:\n- name: pi\n  groups: users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo\n  shell: /bin/bash\n  lock_passwd: true\n  ssh_authorized_keys:\n    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFleetOperatorKeyForPinetTestsOnly0000 admin@boot-server\n  sudo: ALL=(ALL) NOPASSWD:ALL\ntimezone: Etc/UTC\nruncmd:\n- localectl set-x11-keymap "us" pc105\n- setupcon -k --force || true\n`;
}

const BOOKWORM_ISSUE = 'Raspberry Pi reference 2024-11-19\nGenerated using pi-gen, https://github.com/RPi-Distro/pi-gen, 891df1e21ed2b6099a2e6a13e26c91dea44b34d4, stage2\n';

const LICENCE_SIZE = Math.round(1.56 * KB);

/**
 * The real boot partition of one Pi. `texts` are the OS's config.txt and
 * cmdline.txt for this Pi (os-images.ts).
 */
export function realBootLayout(
  os: OsName,
  board: Board,
  kernels: RealKernels,
  pi: { name: string; serial: string },
  texts: { configTxt: string; cmdline: string; readme?: string },
): RealBootLayout {
  const shared: SharedBootFile[] = [];
  const text: TextBootFile[] = [];
  const add = (path: string, size: number, label: string, mode = 0o755) => shared.push({ path, size, mode, label });
  const own = kernels.ownInitramfs ? pi.serial : null;

  if (os === 'ubuntu-2404') {
    const fw = `real/${os}/linux-firmware-raspi`;
    const sets: Array<[string, string | null]> = [['', kernels.version]];
    if (kernels.previous !== null) sets.push(['.bak', kernels.previous]);
    for (const [suffix, version] of sets) {
      // flash-kernel's .bak set: the firmware it replaced (unchanged here), the previous kernel's files.
      for (const [name, size] of FIRMWARE) add(name + suffix, size, `${fw}/${name}`);
      for (const [name, size] of UBUNTU_DTBS) add(name + suffix, size, `real/${os}/${version}/${name}`);
      const k = realKernelLabels(os, board, version!, suffix === '' ? own : null);
      add(`vmlinuz${suffix}`, REAL_KERNEL_SIZES[os].kernel, k.kernel, 0o600);
      add(`initrd.img${suffix}`, REAL_KERNEL_SIZES[os].initramfs, k.initramfs);
    }
    for (const [name, size] of [...OVERLAYS, ...OVERLAY_EXTRAS]) add(name, size, `real/${os}/${kernels.version}/${name}`);
    add('boot.scr', 3_424, `real/${os}/flash-kernel/boot.scr`);
    text.push({ path: 'config.txt', text: texts.configTxt, mode: 0o755 });
    text.push({ path: 'cmdline.txt', text: texts.cmdline, mode: 0o755 });
    if (texts.readme !== undefined) text.push({ path: 'README', text: texts.readme, mode: 0o755 });
    text.push({ path: 'meta-data', text: UBUNTU_META_DATA, mode: 0o755 });
    text.push({ path: 'network-config', text: UBUNTU_NETWORK_CONFIG, mode: 0o755 });
    text.push({ path: 'user-data', text: ubuntuUserData(pi.name), mode: 0o755 });
    return { shared, text };
  }
  if (os === 'rpios-bookworm') {
    const fw = `real/${os}/raspi-firmware`;
    for (const [name, size] of FIRMWARE) add(name, size, `${fw}/${name}`);
    add('LICENCE.broadcom', LICENCE_SIZE, `${fw}/LICENCE.broadcom`);
    const r = release(kernels.version);
    for (const [name, size] of [...BOOKWORM_DTBS, ...OVERLAYS, ...OVERLAY_EXTRAS]) add(name, size, `real/${os}/${r}/${name}`);
    // Both flavours' kernels and initramfs images are on every card (linux-image-rpi-v8 and -2712).
    const own8 = own === null ? '' : `/built-on/${own}`;
    add('kernel8.img', REAL_KERNEL_SIZES[os].kernel, `real/${os}/${r}/kernel8.img`);
    add('kernel_2712.img', REAL_KERNEL_SIZES[os].kernel, `real/${os}/${r}/kernel_2712.img`);
    add('initramfs8', REAL_KERNEL_SIZES[os].initramfs, `real/${os}/${r}/initramfs8${own8}`);
    add('initramfs_2712', REAL_KERNEL_SIZES[os].initramfs, `real/${os}/${r}/initramfs_2712${own8}`);
    text.push({ path: 'config.txt', text: texts.configTxt, mode: 0o755 });
    text.push({ path: 'cmdline.txt', text: texts.cmdline, mode: 0o755 });
    text.push({ path: 'issue.txt', text: BOOKWORM_ISSUE, mode: 0o755 });
    return { shared, text };
  }
  throw new Error(`no real boot layout for ${os}; there is one for ${REAL_BOOT_OSES.join(', ')}`);
}

/** Total bytes of a layout (what `du --apparent-size` of the partition says). */
export function layoutBytes(layout: RealBootLayout): number {
  return layout.shared.reduce((n, f) => n + f.size, 0) + layout.text.reduce((n, f) => n + Buffer.byteLength(f.text), 0);
}
