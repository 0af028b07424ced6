"""Where a sweep's servers and clients run: over loopback or the veth pair (netns.py), the servers
here or on another host, the idle connections held here or on other hosts (remote.py).

NetPaths is a part of executor.Sweep, split out by topic: its methods use the Sweep's attributes
(args, net, topology, server_host, idle_hosts, lg_help)."""

from harness.sweep import netns
from harness.sweep import remote


class NetPaths:
    def use_net(self, net):
        # kernel_memory's counters need nothing per path: the cgroups follow the processes, and
        # sockstat's TCP `mem` is the global tcp_memory_allocated in every namespace's view.
        self.net = net

    def client_wrap(self):
        return self.topology.client_exec() if self.net == netns.NET_VETH else []

    def server_placement(self):
        """(wrap, bind, host) of a server on the current path."""
        if self.server_host is not None:
            return (
                remote.server_wrap(self.server_host),
                "0.0.0.0",
                self.args.server_address or self.server_host.address,
            )
        if self.idle_hosts:
            return [], "0.0.0.0", self.args.server_address
        if self.net != netns.NET_VETH:
            return [], None, None
        # Every server address accepts, so that holders can spread over them.
        return self.topology.server_exec(), "0.0.0.0", self.topology.server_addresses[0]

    def spread_args(self):
        """Idle holders spread over every client and server address of the veth link, when the
        loadgen offers it; otherwise the loadgen's default (the kernel's source, --host)."""
        if self.net != netns.NET_VETH or "--idle-sources" not in self.lg_help:
            return []
        topo = self.topology
        return [
            "--idle-sources",
            ",".join(topo.client_addresses),
            "--idle-destinations",
            ",".join(topo.server_addresses),
        ]

    def remote_kernel_memory(self):
        """Why kernel memory is not measured with a remote side (None when every side is here)."""
        far = ([self.server_host.name] if self.server_host else []) + [
            h.name for h in self.idle_hosts
        ]
        if not far:
            return None
        return (
            f"unavailable: {', '.join(far)} on another host (its counters and cgroups are"
            " there, not here)"
        )
