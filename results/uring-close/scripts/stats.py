"""Print a chat server's /stats JSON line: stats.py PORT"""

import socket
import sys

conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = conn.makefile("rwb")
f.readline()  # the welcome
f.write(b"/stats\n")
f.flush()
while True:
    line = f.readline()
    if line.startswith(b"{"):
        print(line.decode().strip())
        break
