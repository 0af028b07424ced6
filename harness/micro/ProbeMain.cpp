// mux-probe: prints one JSON object of observed kernel and libc behaviour (see KernelProbe.h).
// Exit status 0 when the object was printed, even if some probes could not run (they are listed
// under "errors"), so that the bench always records what was seen.
#include <fmt/format.h>

#include <cstring>
#include <string_view>

#include "KernelProbe.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      fmt::print(
          "mux-probe: prints one JSON object of what this kernel and libc do with select, poll,\n"
          "epoll and io_uring (level/edge triggering, FD_SETSIZE, poll's nfds limit, mmap).\n"
          "Usage: mux-probe > probe.json\n");
      return 0;
    }
    fmt::print(stderr, "mux-probe: unknown argument {} (see --help)\n", a);
    return 2;
  }
  fmt::print("{}\n", mux::to_json(mux::probe_kernel()));
  return 0;
}
