#!/usr/bin/python3
"""Bootloader EEPROM images for the pinet test fleet's fake Pis.

An image is what a Pi 4 (512 KiB) or Pi 5 (2 MiB) SPI EEPROM holds: a chain
of sections, each a 32-bit big-endian magic and a 32-bit length. Files the
user may change (bootconf.txt, the bootloader configuration) are sections
with the file magic, a 12-byte NUL-padded name and 4 reserved bytes before
the content; sections start on 8-byte boundaries; unused space is 0xff.
This layout is the one the real rpi-eeprom-config reads and writes, so the
images of the fake fleet can be read by either.

Used by the fake rpi-eeprom-config inside the Pis and, from the host, by the
fleet to build the firmware images and to "flash" a staged update at reboot:

    fake_eeprom.py build --size BYTES --timestamp UNIX --config FILE OUT
    fake_eeprom.py extract IMAGE           # prints bootconf.txt
    fake_eeprom.py build-timestamp IMAGE   # prints BUILD_TIMESTAMP
"""

import hashlib
import struct
import sys

MAGIC = 0x55AAF00F
MAGIC_MASK = 0xFFFFF00F
FILE_MAGIC = 0x55AAF11F
PAD_MAGIC = 0x55AAFEEF
NAME_LEN = 12
FILE_HEADER = 24  # magic, length, name, 4 reserved bytes
ERASE_SIZE = 4096
MAX_CONFIG = ERASE_SIZE - 20
IMAGE_SIZES = (512 * 1024, 2 * 1024 * 1024)
BOOTCONF = 'bootconf.txt'


class ImageError(Exception):
    pass


def _align8(n):
    return (n + 7) & ~7


def sections(image):
    """Yield (offset, magic, length, name) for each section of the image."""
    if len(image) not in IMAGE_SIZES:
        raise ImageError('Expected sizes %s bytes, got actual size %d bytes' % (list(IMAGE_SIZES), len(image)))
    offset = 0
    while offset + 8 <= len(image):
        magic, length = struct.unpack_from('>LL', image, offset)
        if magic in (0, 0xFFFFFFFF):
            return
        if (magic & MAGIC_MASK) != MAGIC:
            raise ImageError('EEPROM is corrupted %x %x %x' % (magic, magic & MAGIC_MASK, MAGIC))
        name = ''
        if magic == FILE_MAGIC:
            name = bytes(image[offset + 8:offset + 8 + NAME_LEN]).rstrip(b'\0').decode('utf-8', 'replace')
        yield offset, magic, length, name
        offset = _align8(offset + 8 + length)


def get_file(image, name):
    for offset, magic, length, section in sections(image):
        if magic == FILE_MAGIC and section == name:
            start = offset + FILE_HEADER
            return bytes(image[start:start + length - NAME_LEN - 4])
    raise ImageError('%s not found in the EEPROM image' % name)


def set_file(image, name, content):
    """Replace a file section in place; the space up to the next section (or
    the reserved last 4 KiB) bounds its size."""
    found = list(sections(image))
    for i, (offset, magic, length, section) in enumerate(found):
        if magic == FILE_MAGIC and section == name:
            limit = found[i + 1][0] if i + 1 < len(found) else len(image) - ERASE_SIZE
            end = offset + FILE_HEADER + len(content)
            if end > limit:
                raise ImageError('Update %d bytes is larger than section size %d' % (len(content) + 20, limit - offset))
            struct.pack_into('>L', image, offset + 4, len(content) + NAME_LEN + 4)
            image[offset + FILE_HEADER:end] = content
            for j in range(end, limit):
                image[j] = 0xFF
            return image
    raise ImageError('Update target %s not found' % name)


def set_timestamp(image, timestamp):
    """The self-update timestamp, in the last 8 bytes (value, then its complement)."""
    ts = int(timestamp) & 0xFFFFFFFF
    struct.pack_into('<L', image, len(image) - 4, ts)
    struct.pack_into('<L', image, len(image) - 8, ~ts & 0xFFFFFFFF)
    return image


def build_timestamp(image):
    marker = b'BUILD_TIMESTAMP='
    at = bytes(image).find(marker)
    if at < 0:
        raise ImageError('no BUILD_TIMESTAMP in the EEPROM image')
    digits = bytearray()
    for b in image[at + len(marker):at + len(marker) + 12]:
        if 48 <= b <= 57:
            digits.append(b)
        else:
            break
    return int(digits.decode())


def build(size, timestamp, config):
    """A new image: a bootcode section (deterministic filler carrying the
    build timestamp), padding, then bootconf.txt as the last section."""
    if size not in IMAGE_SIZES:
        raise ImageError('image size must be one of %s' % (list(IMAGE_SIZES),))
    image = bytearray(b'\xff' * size)
    stamp = b'BUILD_TIMESTAMP=%d\0MFG_VER: 1\0' % timestamp
    filler = bytearray()
    seed = hashlib.sha256(b'fake-pi-bootcode-%d' % timestamp).digest()
    while len(filler) < 60000:
        seed = hashlib.sha256(seed).digest()
        filler += seed
    code = bytes(filler[:60000 - len(stamp)]) + stamp
    struct.pack_into('>LL', image, 0, MAGIC, len(code))
    image[8:8 + len(code)] = code
    conf_at = size - 64 * 1024 if size == IMAGE_SIZES[0] else size - 1024 * 1024
    pad_at = _align8(8 + len(code))
    struct.pack_into('>LL', image, pad_at, PAD_MAGIC, conf_at - pad_at - 8)
    struct.pack_into('>LL', image, conf_at, FILE_MAGIC, NAME_LEN + 4)
    image[conf_at + 8:conf_at + 8 + NAME_LEN] = BOOTCONF.encode().ljust(NAME_LEN, b'\0')
    image[conf_at + 20:conf_at + 24] = b'\0\0\0\0'
    return set_file(image, BOOTCONF, config)


def read(path):
    with open(path, 'rb') as f:
        return bytearray(f.read())


def main(argv):
    if len(argv) >= 2 and argv[0] == 'extract':
        sys.stdout.buffer.write(get_file(read(argv[1]), BOOTCONF))
    elif len(argv) >= 2 and argv[0] == 'build-timestamp':
        print(build_timestamp(read(argv[1])))
    elif len(argv) == 8 and argv[0] == 'build' and argv[1] == '--size' and argv[3] == '--timestamp' and argv[5] == '--config':
        with open(argv[6], 'rb') as f:
            config = f.read()
        image = build(int(argv[2]), int(argv[4]), config)
        with open(argv[7], 'wb') as f:
            f.write(image)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (ImageError, OSError, ValueError) as err:
        sys.stderr.write('fake_eeprom: %s\n' % err)
        sys.exit(1)
