"""The modules of the Python chat servers (py-select, py-poll, py-epoll; chat_server.py is their
script): protocol.py (Chat: the protocol, as ChatCore.cpp has it), server.py (Server: the
listening socket, accept, refusals, reading) and loops.py (the three loops)."""
