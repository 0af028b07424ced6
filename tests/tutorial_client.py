#!/usr/bin/env python3
"""A chat client written the way tutorials write one: one select() loop over stdin and the
socket; lines typed are sent raw, whatever arrives is printed. The servers must work with it."""
import select
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((host, port))
    while True:
        readable, _, _ = select.select([sys.stdin, sock], [], [])
        for source in readable:
            if source is sock:
                data = sock.recv(4096)
                if not data:
                    print("disconnected from server")
                    sys.stdout.flush()
                    return
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
            else:
                line = sys.stdin.readline()
                if not line:
                    sock.close()
                    return
                sock.send(line.encode())


if __name__ == "__main__":
    main()
