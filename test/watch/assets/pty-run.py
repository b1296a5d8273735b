"""Run a command on a pseudo-terminal of a given size, copying what it
writes to stdout: how pinet watch's tests see its live table as a terminal
would. Prints the command's PID on stderr first (to send it Ctrl-C).

    python3 pty-run.py COLUMNS ROWS COMMAND [ARG...]
"""
import fcntl
import os
import pty
import struct
import sys
import termios

cols, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
sys.stderr.write(f"{pid}\n")
sys.stderr.flush()
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
