"""The three loops, the tutorial's, one per mechanism: py-select, py-poll, py-epoll (LOOPS, by
the name the script runs under). Each asks its mechanism which sockets are ready, reads one chunk
from each, and writes what was queued once per pass."""

import select

FD_SETSIZE = 1024  # glibc's, which select.select inherits: it raises ValueError past it


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
