#!/usr/bin/python3
"""muxbench's chat server the way the tutorial writes one: Python's standard library, one loop,
a list of sockets. Installed three times, as py-select, py-poll and py-epoll (the name it runs
under picks select.select, select.poll or select.epoll), it speaks the protocol of
docs/protocol.md and takes the command line of the C++ servers, so that the loadgen and the
sweep drive it like them (docs/peers.md).

The tutorial's structure is kept on purpose: the loop asks the mechanism which sockets are
ready, reads one chunk from each, and writes what it queued once per pass. No event library, no
threads, no tuning beyond what a reader of the tutorial would write."""

import argparse
import errno
import json
import os
import re
import resource
import select
import signal
import socket
import sys

VERSION = "0.1.0"
FD_SETSIZE = 1024  # glibc's, which select.select inherits: it raises ValueError past it
FD_MARGIN = 16  # descriptors the C++ servers keep for themselves (ServerMain.cpp's kFdMargin)
MAX_ROOMS = 65536
LOBBY = b"lobby"
NAME = re.compile(rb"[A-Za-z0-9_-]*")
WHO_MORE_BYTES = 30
HELP = [
    b"* commands:",
    b"*   /nick NAME  rename yourself (1-32 characters of A-Z a-z 0-9 _ -)",
    b"*   /join ROOM  leave your room and enter ROOM",
    b"*   /who        list the members of your room",
    b"*   /stats      server counters as one JSON line",
    b"*   /quit       disconnect",
    b"*   any other line is sent to the other members of your room",
]


def on_signal(signum, frame):
    """SIGINT or SIGTERM: nothing here. The interpreter's own C handler has already written the
    signal's number into the wake-up pipe (signal.set_wakeup_fd) that every loop watches; the
    loop then returns and main prints the counters. Raising from here instead (as the first
    version did) loses the signal whenever it lands in a finalizer, such as a refused socket's:
    Python prints "Exception ignored" there and the loop blocks on (the fifteen-hundred-connection
    test caught py-select ignoring SIGTERM one time in three)."""


def size_value(text):
    """--max-outbuf 4M: suffixes K, M, G are powers of 1024, as CLI11's AsSizeValue reads them."""
    units = {"": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30}
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in units:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (a number, suffix K, M or G)")
    return int(m.group(1)) * units[m.group(2).lower()]


def invalid_name_reason(name):
    if not 1 <= len(name) <= 32:
        return f"must be 1-32 characters (got {len(name)})"
    if not NAME.fullmatch(name):
        return "only A-Z a-z 0-9 _ - are allowed"
    return None


class Connection:
    def __init__(self, sock, nick):
        self.sock = sock
        self.fd = sock.fileno()
        self.nick = nick
        self.room = LOBBY
        self.pending = b""  # bytes after the last newline
        self.out = bytearray()
        self.closing = False  # close once `out` is sent (/quit, line too long, EOF)
        self.doomed = False  # close at the end of this pass
        self.dirty = False


class Chat:
    """The protocol, as ChatCore.cpp has it: rooms, nicks, commands, framing, bounded output."""

    def __init__(self, opt, mechanism, fd_limit):
        self.opt = opt
        self.mechanism = mechanism
        self.fd_limit = fd_limit
        self.rooms = {LOBBY: {}}  # room -> {Connection: None}, in order of arrival
        self.nicks = {}
        self.next_guest = 1
        self.dirty, self.doomed = [], []
        # Connections whose output or reading changed this pass: the registered loops update
        # their interest from this list, never by scanning every connection.
        self.touched = []
        self.n = dict.fromkeys(
            "accepted refused current peak msgs_in msgs_out bytes_in bytes_out slow_dropped"
            " overlong_dropped wait_calls events fds_passed ctl_calls sys_accept sys_recv"
            " sys_send sys_close sys_other".split(),
            0,
        )
        self.queue_limit = opt.max_outbuf
        self.enforced_limit = opt.max_outbuf
        self.update_queue_limit()
        self.drop = None  # the loop's: forget a connection's socket

    # --- connections -------------------------------------------------------------------------
    def open(self, sock):
        nick = f"guest{self.next_guest}".encode()
        self.next_guest += 1
        while nick in self.nicks:
            nick = f"guest{self.next_guest}".encode()
            self.next_guest += 1
        c = Connection(sock, nick)
        self.nicks[nick] = c
        self.rooms.setdefault(LOBBY, {})[c] = None
        self.n["accepted"] += 1
        self.n["current"] += 1
        self.n["peak"] = max(self.n["peak"], self.n["current"])
        self.update_queue_limit()
        self.send_line(c, b"* welcome " + nick + b" (room lobby; /help for commands)")
        if not self.opt.quiet:
            self.broadcast(c, b"* " + nick + b" joined\n", False)
        return c

    def full(self):
        return self.opt.max_conns and self.n["current"] >= self.opt.max_conns

    def full_line(self):
        cap = self.opt.max_conns
        return f"! server full: {cap} connections (--max-conns {cap})\n".encode()

    def on_bytes(self, c, data):
        """False when the connection stops reading (closing or doomed)."""
        self.n["bytes_in"] += len(data)
        if c.doomed:
            return False
        if c.closing:
            return True  # input after /quit is read and thrown away
        while data:
            nl = data.find(b"\n")
            if nl < 0:
                # A trailing \r may be half of a CRLF: not counted yet (LineFramer.h).
                cr = 1 if data.endswith(b"\r") else 0
                if len(c.pending) + len(data) - cr > self.opt.max_line:
                    return self.too_long(c)
                c.pending += data
                return True
            line, data = c.pending + data[:nl], data[nl + 1 :]
            c.pending = b""
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.opt.max_line:
                return self.too_long(c)
            self.on_line(c, line)
            if c.closing or c.doomed:
                return False
        return True

    def too_long(self, c):
        self.n["overlong_dropped"] += 1
        self.send_line(c, b"! line too long (max %d bytes)" % self.opt.max_line)
        self.close_after_flush(c)
        return False

    def on_eof(self, c):
        if c.doomed:
            return
        if not c.closing and c.pending:
            last, c.pending = c.pending, b""
            self.on_line(c, last)
        self.close_after_flush(c)

    def sent(self, c, n):
        self.n["bytes_out"] += n
        del c.out[:n]
        if c.closing and not c.out:
            self.doom(c)

    def closed(self, c):
        if not self.opt.quiet:
            self.broadcast(c, b"* " + c.nick + b" left\n", False)
        members = self.rooms.get(c.room, {})
        members.pop(c, None)
        if not members and c.room != LOBBY:
            del self.rooms[c.room]
        del self.nicks[c.nick]
        self.n["current"] -= 1
        self.update_queue_limit()

    # --- lines -------------------------------------------------------------------------------
    def on_line(self, c, line):
        if line.startswith(b"/"):
            cmd, _, arg = line.partition(b" ")
            return self.on_command(c, cmd, arg.strip(b" \t"))
        self.n["msgs_in"] += 1
        self.broadcast(c, b"<" + c.nick + b"> " + line + b"\n", True)

    def on_command(self, c, cmd, arg):
        if cmd in (b"/nick", b"/join"):
            if not arg:
                return self.send_line(
                    c, b"! usage: /nick NAME" if cmd == b"/nick" else b"! usage: /join ROOM"
                )
            why = invalid_name_reason(arg)
            if why:
                return self.send_line(c, b"! invalid name: " + why.encode())
            return self.rename(c, arg) if cmd == b"/nick" else self.join(c, arg)
        if cmd == b"/who":
            return self.who(c)
        if cmd == b"/stats":
            return self.send_line(c, self.stats_json().encode())
        if cmd == b"/quit":
            self.send_line(c, b"* bye")
            return self.close_after_flush(c)
        if cmd == b"/help":
            for h in HELP:
                self.send_line(c, h)
            return
        self.send_line(c, b"! unknown command: " + cmd + b" (try /help)")

    def rename(self, c, name):
        old = c.nick
        if name != old:
            if name in self.nicks:
                return self.send_line(c, b"! nick taken: " + name)
            del self.nicks[old]
            self.nicks[name] = c
            c.nick = name
        self.send_line(c, b"* you are now " + name)
        if not self.opt.quiet and old != name:
            self.broadcast(c, b"* " + old + b" is now " + name + b"\n", False)

    def may_create(self, c, room):
        if room == LOBBY:
            return True
        after = len(self.rooms) + 1 + (0 if LOBBY in self.rooms else 1)
        if c.room != LOBBY and len(self.rooms.get(c.room, ())) == 1:
            after -= 1  # its old room goes with it
        return after <= self.opt.max_rooms

    def join(self, c, room):
        if room != c.room:
            if room not in self.rooms and not self.may_create(c, room):
                return self.send_line(c, b"! too many rooms (max %d)" % self.opt.max_rooms)
            if not self.opt.quiet:
                self.broadcast(c, b"* " + c.nick + b" left\n", False)
            old = self.rooms[c.room]
            del old[c]
            if not old and c.room != LOBBY:
                del self.rooms[c.room]
            c.room = room
            self.rooms.setdefault(room, {})[c] = None
            if not self.opt.quiet:
                self.broadcast(c, b"* " + c.nick + b" joined\n", False)
        self.send_line(c, b"* you joined " + room)

    def who(self, c):
        members = self.rooms[c.room]
        line = b"* members of %s (%d):" % (c.room, len(members))
        listed = 0
        for m in members:
            if len(line) + 1 + len(m.nick) + WHO_MORE_BYTES > self.opt.max_line:
                break
            line += b" " + m.nick
            listed += 1
        if listed < len(members):
            line += b" (+%d more)" % (len(members) - listed)
        self.send_line(c, line)

    # --- output ------------------------------------------------------------------------------
    def broadcast(self, sender, data, is_message):
        for m in self.rooms[sender.room]:
            if m is sender or m.doomed or m.closing:
                continue
            self.queue(m, data)
            if is_message:
                self.n["msgs_out"] += 1

    def send_line(self, c, line):
        if not c.doomed:
            self.queue(c, line + b"\n")

    def queue(self, c, data):
        c.out += data
        if len(c.out) > self.queue_limit:
            self.flush(c)
            if not c.doomed and len(c.out) > self.queue_limit:
                self.n["slow_dropped"] += 1
                return self.doom(c)
        if not c.dirty and not c.doomed:
            c.dirty = True
            self.dirty.append(c)

    def close_after_flush(self, c):
        c.closing = True
        if not c.out:
            return self.doom(c)
        if not c.dirty:
            c.dirty = True
            self.dirty.append(c)

    def doom(self, c):
        if not c.doomed:
            c.doomed = True
            self.doomed.append(c)

    def flush(self, c):
        while c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                break
            except OSError:  # EPIPE, ECONNRESET
                return self.doom(c)
            finally:
                self.n["sys_send"] += 1
            self.sent(c, n)

    def settle(self):
        """The end of a pass: every new output is written once, then doomed sockets close (which
        may queue "left" notices), until nothing is left."""
        while self.dirty or self.doomed:
            dirty, self.dirty = self.dirty, []
            self.touched += dirty
            for c in dirty:
                c.dirty = False
                if not c.doomed:
                    self.flush(c)
            doomed, self.doomed = self.doomed, []
            for c in doomed:
                if c.fd >= 0:
                    self.drop(c)
                    self.closed(c)
                    self.n["sys_close"] += graceful_close(c.sock)
                    c.fd = -1

    def update_queue_limit(self):
        """Each connection may queue min(--max-outbuf, --max-queued-total / connections); when
        that share falls by an eighth, every queue is held to it now (ChatCore.cpp)."""
        if not self.opt.max_queued_total:
            return
        share = self.opt.max_queued_total // max(self.n["current"], 1)
        self.queue_limit = min(self.opt.max_outbuf, share)
        if self.queue_limit > self.enforced_limit:
            self.enforced_limit = self.queue_limit
        elif self.queue_limit < self.enforced_limit - self.enforced_limit // 8:
            for c in list(self.nicks.values()):
                if not c.doomed and len(c.out) > self.queue_limit:
                    self.flush(c)
                    if not c.doomed and len(c.out) > self.queue_limit:
                        self.n["slow_dropped"] += 1
                        self.doom(c)
            self.enforced_limit = self.queue_limit

    def stats_json(self):
        """The C++ servers' /stats keys (ChatCore::stats_json), so that the loadgen and the sweep
        read this server's counters like theirs. The system calls are the ones this script
        makes; the interpreter's own (none per message) are not counted."""
        n = dict(self.n)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        n["sys_other"] += 1
        sys_wait = n["wait_calls"]
        sys_ctl = n["ctl_calls"] if self.mechanism == "py-epoll" else 0
        syscalls = sys_wait + sys_ctl + sum(n[k] for k in ("sys_accept", "sys_recv", "sys_send"))
        syscalls += n["sys_close"] + n["sys_other"]
        out = {"mechanism": self.mechanism}
        for key in "accepted refused current peak msgs_in msgs_out bytes_in bytes_out".split():
            out[key] = n[key]
        out.update(
            wait_calls=n["wait_calls"],
            events=n["events"],
            fds_passed=n["fds_passed"],
            ctl_calls=n["ctl_calls"],
            slow_dropped=n["slow_dropped"],
            overlong_dropped=n["overlong_dropped"],
            cpu_user_us=int(usage.ru_utime * 1e6),
            cpu_sys_us=int(usage.ru_stime * 1e6),
            fd_limit=self.fd_limit,
            syscalls=syscalls,
            sys_wait=sys_wait,
            sys_ctl=sys_ctl,
            sys_accept=n["sys_accept"],
            sys_recv=n["sys_recv"],
            sys_send=n["sys_send"],
            sys_close=n["sys_close"],
            sys_other=n["sys_other"],
            sqes=0,
            sqe_poll=0,
            sqe_accept=0,
            sqe_recv=0,
            sqe_send=0,
            sqe_close=0,
            sqe_other=0,
            recv_nobufs=0,
            max_queued_total=self.opt.max_queued_total,
            queue_limit=self.queue_limit,
        )
        self.n["sys_other"] += 1
        return json.dumps(out, separators=(",", ":"))


def graceful_close(sock):
    """FIN first, then discard what the peer already sent, then close: closing a socket with
    unread input sends RST, and the peer may lose our last line ("* bye"). Returns calls made."""
    calls = 2
    try:
        sock.shutdown(socket.SHUT_WR)
        for _ in range(64):
            calls += 1
            if not sock.recv(4096):
                break
    except OSError:
        pass
    sock.close()
    return calls


class Server:
    """The listening socket, accept with its refusals, and reading one ready socket: what every
    loop below shares. A loop only says how it asks which sockets are ready."""

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


# --- the three loops: the tutorial's, one per mechanism ----------------------------------------


def select_loop(server):
    """select.select over lists of sockets, rebuilt every pass as the tutorial does."""
    chat = server.chat

    def watch(sock):
        if sock.fileno() < FD_SETSIZE:
            return None
        # What Python itself says past the limit, kept in the refusal (docs/peers.md).
        try:
            select.select([sock], [], [], 0)
            return None
        except ValueError as e:
            return (
                f"select() cannot watch descriptor {sock.fileno()} (FD_SETSIZE is {FD_SETSIZE})"
                f": Python's select.select raised ValueError: {e}"
            )

    chat.drop = lambda c: server.conns.pop(c.fd, None)
    while True:
        readers = [server.listener, server.wake_read]
        readers += [c.sock for c in server.conns.values() if not c.closing]
        writers = [c.sock for c in server.conns.values() if c.out]
        readable, writable, _ = select.select(readers, writers, [])
        chat.n["wait_calls"] += 1
        chat.n["fds_passed"] += len(readers) + len(writers)
        chat.n["events"] += len(readable) + len(writable)
        for sock in writable:
            c = server.conns.get(sock.fileno())
            if c and not c.doomed:
                chat.flush(c)
        if server.wake_read in readable:
            return
        for sock in readable:
            if sock is server.listener:
                server.accept_all(watch)
            else:
                c = server.conns.get(sock.fileno())
                if c:
                    server.read(c)
        chat.settle()
        chat.touched.clear()  # select passes every interest with each wait: nothing to update


def registered_loop(server, poller, flags):
    """select.poll and select.epoll: register each socket once, change its interest when its
    output queue fills or drains, and wait. `flags` = (readable, writable, error bits)."""
    chat = server.chat
    read_bits, write_bits, error_bits = flags
    interest = {}  # descriptor -> bits registered

    def watch(sock):
        poller.register(sock.fileno(), read_bits)
        interest[sock.fileno()] = read_bits
        chat.n["ctl_calls"] += 1

    def drop(c):
        server.conns.pop(c.fd, None)
        poller.unregister(c.fd)
        del interest[c.fd]
        chat.n["ctl_calls"] += 1

    chat.drop = drop
    listener = server.listener.fileno()
    poller.register(listener, read_bits)
    poller.register(server.wake_read, read_bits)
    while True:
        events = poller.poll()
        chat.n["wait_calls"] += 1
        chat.n["events"] += len(events)
        if chat.mechanism == "py-poll":
            chat.n["fds_passed"] += len(interest) + 2
        for fd, bits in events:
            if fd == server.wake_read:
                return
            if fd == listener:
                server.accept_all(watch)
                continue
            c = server.conns.get(fd)
            if not c or c.doomed:
                continue
            chat.touched.append(c)
            if bits & write_bits and c.out:
                chat.flush(c)
            if not c.doomed and bits & (read_bits | error_bits):
                server.read(c)
        chat.settle()
        touched, chat.touched = chat.touched, []
        for c in touched:
            bits = (0 if c.closing else read_bits) | (write_bits if c.out else 0)
            if c.fd >= 0 and not c.doomed and bits != interest[c.fd]:
                poller.modify(c.fd, bits)
                interest[c.fd] = bits
                chat.n["ctl_calls"] += 1


def poll_loop(server):
    e = select
    registered_loop(server, select.poll(), (e.POLLIN, e.POLLOUT, e.POLLHUP | e.POLLERR))


def epoll_loop(server):
    e = select
    registered_loop(server, select.epoll(), (e.EPOLLIN, e.EPOLLOUT, e.EPOLLHUP | e.EPOLLERR))


LOOPS = {"py-select": select_loop, "py-poll": poll_loop, "py-epoll": epoll_loop}


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def parse_args(mechanism, argv, fd_limit):
    p = argparse.ArgumentParser(
        prog=mechanism,
        description=f"{mechanism}: muxbench chat server in standard-library Python "
        f"(Python's select.{mechanism[3:]}); speaks docs/protocol.md, and on "
        "SIGINT/SIGTERM prints its counters as one JSON line and exits 0.",
    )
    p.add_argument("--bind", default="127.0.0.1", help="numeric address to listen on")
    p.add_argument("--port", type=int, default=8002, help="TCP port (0 = any free port)")
    p.add_argument("--quiet", action="store_true", help="no join/leave/rename notices")
    p.add_argument("--max-line", type=int, default=4096, help="longest accepted line in bytes")
    p.add_argument("--max-outbuf", type=size_value, default=1 << 20, help="bytes queued per client")
    pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGESIZE")
    p.add_argument(
        "--max-queued-total",
        type=size_value,
        default=pages * page // 8 if pages > 0 and page > 0 else 0,
        help="bytes queued for all clients together; default an eighth of memory; 0: no budget",
    )
    p.add_argument("--max-conns", type=int, default=None, help="connections served at once")
    p.add_argument("--max-rooms", type=int, default=MAX_ROOMS, help="rooms at once, lobby included")
    p.add_argument("--cpu", type=int, default=-1, help="pin the server to this CPU")
    p.add_argument("--uring-buffers", type=int, help=argparse.SUPPRESS)  # the C++ servers' option
    p.add_argument("--version", action="version", version=f"{mechanism} (muxbench {VERSION})")
    opt = p.parse_args(argv)
    allowed = max(fd_limit - FD_MARGIN, 0)
    if opt.max_conns is None:
        opt.max_conns = allowed
    elif opt.max_conns > allowed:
        p.exit(
            2,
            f"{mechanism}: --max-conns {opt.max_conns}: the open-file limit is {fd_limit}, which "
            f"allows {allowed} connections beside the server's own {FD_MARGIN} descriptors; raise"
            f" it (ulimit -n {opt.max_conns + FD_MARGIN}), or give --max-conns {allowed}\n",
        )
    return opt  # --max-conns 0: no cap but the open-file limit's


def main():
    mechanism = os.path.basename(sys.argv[0])
    if mechanism not in LOOPS:
        sys.exit(f"{mechanism}: run me as one of {', '.join(LOOPS)} (the name picks the mechanism)")
    fd_limit = raise_fd_limit()
    opt = parse_args(mechanism, sys.argv[1:], fd_limit)
    if opt.cpu >= 0:
        try:
            os.sched_setaffinity(0, {opt.cpu})
        except OSError as e:
            sys.exit(f"{mechanism}: --cpu {opt.cpu}: {e}")
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        server = Server(opt, mechanism, fd_limit)
    except OSError as e:
        sys.exit(f"{mechanism}: listen {opt.bind}:{opt.port}: {e}")
    signal.set_wakeup_fd(server.wake_write, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(server.listening_line(), flush=True)
    LOOPS[mechanism](server)
    print(server.chat.stats_json(), flush=True)


if __name__ == "__main__":
    main()
