"""A server's sockets: the listener, the connections by descriptor and the stop signals' wake-up
pipe; what the three loops (loops.py) share of them."""

import errno
import os
import socket
import sys

from pychat.protocol import Chat, graceful_close


class Server:
    """The listening socket, accept with its refusals, and reading one ready socket: what every
    loop (loops.py) shares. A loop only says how it asks which sockets are ready."""

    def __init__(self, opt, mechanism, fd_limit):
        self.chat = Chat(opt, mechanism, fd_limit)
        self.fd_limit = fd_limit
        family = socket.AF_INET6 if ":" in opt.bind else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit TCP_NODELAY: small chat lines must not wait for delayed ACKs.
        self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.listener.bind((opt.bind, opt.port))
        self.listener.listen(socket.SOMAXCONN)
        self.listener.setblocking(False)
        self.reserve = open(os.devnull, "rb")  # given up to refuse a connection on EMFILE
        self.conns = {}  # descriptor -> Connection
        # The stop signals' wake-up pipe, as the C++ servers' self-pipe (on_signal).
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)

    def listening_line(self):
        host, port = self.listener.getsockname()[:2]
        if ":" in host:
            host = f"[{host}]"
        c = self.chat
        return (
            f"listening {host}:{port} mechanism={c.mechanism} fd_limit={self.fd_limit}"
            f" max_conns={c.opt.max_conns}"
        )

    def accept_all(self, watch):
        """Accepts until none is pending; watch(sock) returns why a socket cannot be watched."""
        chat = self.chat
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    # Linux reports EMFILE before it looks at the backlog: an empty one ends here.
                    if self.refuse_without_descriptors():
                        continue
                    return
                if e.errno in (errno.EINTR, errno.ECONNABORTED):
                    continue
                print(f"accept: {e}", file=sys.stderr)
                return
            finally:
                chat.n["sys_accept"] += 1
            sock.setblocking(False)
            why = None if not chat.full() else chat.full_line()
            if why is None:
                reason = watch(sock)
                why = None if reason is None else f"! server full: {reason}\n".encode()
            if why is not None:
                chat.n["refused"] += 1
                refuse(sock, why)
                continue
            c = chat.open(sock)
            self.conns[c.fd] = c

    def refuse_without_descriptors(self):
        """Out of descriptors: a pending connection would keep the listener ready and the loop
        would spin. The spare descriptor makes room to refuse it with a line."""
        if self.reserve is None:
            return False
        self.reserve.close()
        try:
            sock, _ = self.listener.accept()
        except OSError:
            sock = None
        if sock is not None:
            sock.setblocking(False)  # graceful_close must not wait for the peer
            line = f"! server full: out of file descriptors (limit {self.fd_limit})\n"
            refuse(sock, line.encode())
            self.chat.n["refused"] += 1
        self.reserve = open(os.devnull, "rb")
        return sock is not None

    def read(self, c):
        """One recv per readiness report (the loops are level-triggered: the rest is reported
        on the next pass). Returns False once the connection no longer reads."""
        chat = self.chat
        if c.doomed:
            return False
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            chat.doom(c)
            return False
        finally:
            chat.n["sys_recv"] += 1
        if not data:
            chat.on_eof(c)
            return False
        return chat.on_bytes(c, data)


def refuse(sock, line):
    try:
        sock.send(line)
    except OSError:
        pass
    graceful_close(sock)
