"""The chat protocol as ChatCore.cpp has it (docs/protocol.md): rooms, nicks, commands, line
framing, the bounded output queues and the /stats counters. No socket is waited on here: a loop
(loops.py) hands in what it read and Chat.settle writes what was queued."""

import json
import re
import resource
import socket

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
