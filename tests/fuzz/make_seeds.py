#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into tests/fuzz-corpus/ (run once; the
files are committed). Each seed exercises one event kind or one reading; the encodings are those
documented at the top of each target's source file."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fuzz-corpus")

# chat_core: event byte = slot << 4 | kind
CONNECT, BYTES, LINE, STOP, RESUME, HALF_CLOSE, RESET, CLOSE, BUFFER = range(9)
LINES = [
    "/nick alice",
    "/nick bob",
    "/nick guest2",
    "/nick",
    "/nick bad!name",
    "/nick \t carol \t",
    "/join lobby",
    "/join red",
    "/join blue",
    "/join",
    "/join two words",
    "/who",
    "/stats",
    "/help",
    "/quit",
    "/bogus arg",
    "hello",
    "",
    "hi there\r",
    "/",
    "/nick\tbob",
    "/who extra",
    "/nick abcdefghijklmnopqrstuvwxyz0123456789",
    "<alice> forged",
    "* forged notice",
]


def ev(slot, kind, *extra):
    return bytes([slot << 4 | kind, *extra])


def line(slot, text):
    return ev(slot, LINE, LINES.index(text))


def raw(slot, data):
    return ev(slot, BYTES, len(data)) + data


def header(
    max_line=56, max_outbuf_steps=60, quiet=False, kernel_steps=4, max_rooms=0, budget_steps=0
):
    # max_line = 8 + b % 56, max_outbuf = 64 + 8 * b, kernel buffer = 16 * n, max_rooms 1-3 (0:
    # the default), max_queued_total = 32 * b (0: none)
    flags = int(quiet) | kernel_steps << 1 | max_rooms << 6
    return bytes([(max_line - 8) % 56, max_outbuf_steps, flags, budget_steps])


# One table of named seeds (each entry a few protocol events), not steps: it stays one function so
# that every seed of the chat core is read in one place.
def chat_core_seeds():
    three = ev(0, CONNECT) + ev(1, CONNECT) + ev(2, CONNECT)
    return {
        "seed-connect-and-talk": header() + three + line(0, "hello") + line(1, "hi there\r"),
        "seed-partial-lines": header()
        + three
        + raw(0, b"par")
        + raw(0, b"tial\nand ")
        + raw(1, b"x\r\n\xff\x00y\n")
        + raw(0, b"more\n"),
        "seed-commands": header()
        + three
        + line(0, "/nick alice")
        + line(1, "/nick alice")
        + line(1, "/nick \t carol \t")
        + line(2, "/join red")
        + line(2, "hello")
        + line(0, "/who")
        + line(0, "/stats")
        + line(1, "/help")
        + line(1, "/bogus arg")
        + line(0, "/nick bad!name")
        + line(0, "/join")
        + line(2, "/quit"),
        "seed-rooms": header(quiet=True)
        + three
        + line(0, "/join red")
        + line(1, "/join red")
        + line(0, "hello")
        + line(2, "hello")
        + line(1, "/join blue")
        + line(0, "hello")
        + line(1, "/join red")
        + line(1, "hello"),
        "seed-room-cap": header(max_rooms=2)
        + three
        + line(0, "/join red")
        + line(1, "/join blue")
        + line(1, "hello")
        + line(0, "/join blue")
        + line(1, "/join red")
        + line(2, "/join red")
        + line(0, "/join lobby")
        + line(1, "/join red")
        + line(1, "hello")
        + ev(2, RESET)
        + ev(3, CONNECT)
        + line(3, "/join blue"),
        "seed-slow-reader": header(max_outbuf_steps=8, kernel_steps=2)
        + three
        + ev(1, STOP)
        + b"".join(line(0, "hello") for _ in range(20))
        + ev(1, RESUME)
        + line(0, "hello"),
        # Four clients share 32 * 40 = 1280 bytes: 320 each, under --max-outbuf 64 + 8 * 60; two
        # stop reading with ~224 bytes queued. A fifth lowers the share to 256 and a sixth to 213,
        # each below 7/8 of the last: every queue is checked, and the two are dropped as slow.
        "seed-queued-total": header(kernel_steps=1, budget_steps=40)
        + three
        + ev(3, CONNECT)
        + ev(1, STOP)
        + ev(2, STOP)
        + b"".join(line(0, "hello") for _ in range(16))
        + ev(4, CONNECT)
        + ev(5, CONNECT)
        + line(0, "hello")
        + ev(1, RESUME),
        "seed-stop-resume": header(max_outbuf_steps=200)
        + three
        + ev(2, STOP)
        + ev(2, BUFFER, 1)
        + line(0, "hello")
        + line(1, "hello")
        + ev(2, RESUME)
        + line(0, "hello"),
        "seed-half-close": header()
        + three
        + raw(0, b"last words")
        + ev(0, HALF_CLOSE)
        + line(1, "hello")
        + ev(1, STOP)
        + line(2, "hello")
        + ev(1, HALF_CLOSE)
        + ev(1, RESUME),
        "seed-reset": header()
        + three
        + ev(1, STOP)
        + line(0, "hello")
        + ev(1, RESET)
        + line(2, "hello")
        + ev(1, CONNECT)
        + line(0, "hello"),
        "seed-close": header()
        + three
        + ev(2, CLOSE)
        + line(0, "hello")
        + ev(0, STOP)
        + line(1, "hello")
        + ev(0, CLOSE)
        + ev(0, CONNECT)
        + line(1, "hello"),
        "seed-too-long": header(max_line=12)
        + three
        + raw(0, b"0123456789abcdef\n")
        + raw(1, b"0123456789ab\r")
        + raw(1, b"\n")
        + line(2, "/nick abcdefghijklmnopqrstuvwxyz0123456789"),
        "seed-sixteen-clients": header(quiet=True)
        + b"".join(ev(s, CONNECT) for s in range(16))
        + line(15, "hello")
        + b"".join(ev(s, RESET) for s in range(0, 16, 3))
        + b"".join(ev(s, CONNECT) for s in range(16))
        + line(3, "/who"),
    }


def encoded_message(size, sender, seq, ns):
    """loadgen/MessageCodec.cpp's encoding, so that a seed holds messages that decode."""
    mask = (1 << 64) - 1
    h = 0x243F6A8885A308D3 ^ size
    for w in (sender, seq, ns):
        h = ((h ^ w) * 0x9E3779B97F4A7C15) & mask
        h ^= h >> 29
    check = (h ^ (h >> 32)) & 0xFFFFFFFF
    header = 49
    pad = "".join(chr(ord("a") + (seq + header + i) % 26) for i in range(size - header))
    return ("m%08x%016x%016x%08x" % (sender, seq, ns, check) + pad).encode()


# server_output: byte 0 picks the message size (49 + b % 64), byte 1 the line limit (0: loadgen's
# own, else 16 * b); the rest is what a server sent.
def server_output_seeds():
    stats = (
        b'{"mechanism":"epoll","accepted":3,"refused":0,"current":2,"peak":3,"msgs_in":10,'
        b'"msgs_out":20,"wait_calls":7,"events":9,"fds_passed":0,"ctl_calls":4,'
        b'"cpu_user_us":100,"cpu_sys_us":50}\n'
    )
    return {
        "seed-stats": bytes([0, 0]) + stats + stats.replace(b"100", b"250"),
        "seed-stats-garbage": bytes([0, 0]) + b'{"a":"x\\"y","b":-9223372036854775808}\n'
        b'{"cpu_user_us":9223372036854775807,"cpu_sys_us":9223372036854775807}\n{"x":\n{}\n{\n',
        "seed-listening": bytes([0, 0])
        + b"listening 127.0.0.1:8002 mechanism=epoll fd_limit=1024\n"
        b"listening [::1]:0 mechanism=select fd_limit=1\n"
        b"listening x:99999999 mechanism= fd_limit=\n",
        "seed-listening-max-conns": bytes([0, 0])
        + b"listening 127.0.0.1:8002 mechanism=poll fd_limit=20000 max_conns=19984\n"
        b"listening 127.0.0.1:8002 mechanism=poll fd_limit=64 max_conns=0\n"
        b"listening 127.0.0.1:8002 mechanism=poll fd_limit=64 max_conns=x\n"
        b"! server full: 5 connections (--max-conns 5)\n",
        "seed-refusal": bytes([0, 0])
        + b"! server full: select() cannot watch descriptor 1024 (FD_SETSIZE is 1024)\n"
        b"! server full: out of file descriptors (limit 64)\n"
        b"* welcome guest1 (room lobby; /help for commands)\n"
        b"* you joined bench\n",
        "seed-messages": bytes([3, 0])
        + b"".join(
            b"<a%d> " % s + encoded_message(52, s % 2, s // 2, 1000 + s) + b"\n"
            for s in (0, 1, 2, 5, 3, 2)
        )
        + b"<x> m\n<guest2> \n<> \n<guest3>no space\n",
    }


# histogram_json: the bytes of a --histogram-out document (loadgen/HistogramJson.h); 100 ns twice
# and 5000 ns once, then damaged copies.
def histogram_json_seeds():
    doc = {
        "format": "muxbench-histogram",
        "version": 1,
        "unit": "ns",
        "mechanism": "epoll-lt",
        "mode": "flood",
        "idle": 1000,
        "label": 'a "quoted" label',
        "scheme": {"name": "log-linear"},
        "total_count": 3,
        "min": 100,
        "max": 5000,
        "sum": 5200,
        "buckets": [
            {"index": 100, "low": 100, "high": 101, "count": 2},
            {"index": 796, "low": 4992, "high": 5024, "count": 1},
        ],
    }

    def changed(**members):
        return json.dumps({**doc, **members}, indent=1).encode()

    return {
        "seed-valid": changed(),
        "seed-wrong-total": changed(total_count=4),
        "seed-wrong-bounds": changed(buckets=[{"index": 100, "low": 1, "high": 2, "count": 2}]),
        "seed-negative-count": changed(
            buckets=[{"index": 100, "low": 100, "high": 101, "count": -2}]
        ),
        "seed-huge-counts": changed(
            total_count=2**64 - 1,
            sum=2**64 - 1,
            buckets=[{"index": 100, "low": 100, "high": 101, "count": 2**64 - 1}],
        ),
        "seed-not-json": b'{"format": "muxbench-histogram", "version": 1,, [[[[\\u12',
    }


def write(target, seeds):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("chat_core", chat_core_seeds())
    write("server_output", server_output_seeds())
    write("histogram_json", histogram_json_seeds())
    write(
        "line_framer",
        {
            "seed-basic": bytes([4, 0, 0]) + b"hello\r\nworld\n",
            "seed-split-reads": bytes([7, 2, 3, 1, 5, 0]) + b"ab\r\ncdefgh\r\n\r\nij",
            "seed-too-long": bytes([2, 0, 1, 3]) + b"ok\nlonger\n",
            "seed-stop": bytes([20, 2, 2, 4, 4]) + b"/quit\nrest\nmore\n",
        },
    )
    sys.exit(0)
