"""What Python's select.select does with a descriptor >= FD_SETSIZE: the tutorial's servers
(py-select) meet this limit, so claim 1 takes the interpreter's own words as a witness beside
mux-probe's FD_SET macro.

    /usr/bin/python3 -m harness.micro.python_select_probe  > fragment.json

Standard library only, run under the interpreter py-select runs under (its shebang). Prints one
JSON object: the interpreter, the descriptor tried, and the outcome ("raised ValueError: ..." or
"returned"). Exit status 0 whatever the outcome; 2 when the descriptor could not be made."""

import json
import os
import platform
import resource
import select
import socket
import sys

# glibc's FD_SETSIZE, which CPython's select module compiles against (it checks every descriptor
# against it and raises ValueError rather than write past the fd_set).
FD_SETSIZE = 1024


def descriptor_at(fd):
    """A socket duplicated onto descriptor fd (raising the soft open-files limit if it is below):
    a real socket, as a server's would be."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= fd:
        if hard != resource.RLIM_INFINITY and hard <= fd:
            raise OSError(f"RLIMIT_NOFILE hard limit {hard} is not above {fd}: cannot open it")
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd + 1, hard))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    os.dup2(sock.fileno(), fd)
    sock.close()
    return fd


def outcome(fd):
    try:
        select.select([fd], [], [], 0)
    except ValueError as e:
        return f"raised ValueError: {e}"
    return "returned"


def main():
    try:
        fd = descriptor_at(FD_SETSIZE)
    except OSError as e:
        print(f"python_select_probe: {e}", file=sys.stderr)
        return 2
    try:
        result = outcome(fd)
    finally:
        os.close(fd)
    print(
        json.dumps(
            {
                "interpreter": sys.executable,
                "version": platform.python_version(),
                "fd": fd,
                "outcome": result,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
