"""CPU time of another local process (a broker), read from ``/proc``: read only, Linux only.

The bench reports CPU per message on each side, the broker's included when
it runs on this machine: the process that listens on the broker's port is
found through ``/proc/net/tcp`` and the socket links under ``/proc/<pid>/fd``,
and its CPU time read from ``/proc/<pid>/stat``. Nothing is ever sent to
it. Where ``/proc`` is missing or unreadable, the broker's CPU is unknown
(None), never guessed.
"""

from __future__ import annotations

import os

__all__ = ["LOOPBACK", "cpu_seconds", "listening_pid"]

#: Host names that mean this machine.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_LISTEN = "0A"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == _LISTEN and \
                            int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on TCP ``port`` on this machine, or None."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(f"{fd_dir}/{fd}") in inodes:
                        return int(entry)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (all its threads), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")
