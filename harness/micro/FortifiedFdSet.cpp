// The one file built with _FORTIFY_SOURCE=2 (see CMakeLists.txt): mux-probe calls it in a child
// process to observe what glibc's FD_SET does with a descriptor >= FD_SETSIZE when fortified
// (Debian's own packages are built this way; a plain `g++ -O2` build is not).
#include <sys/select.h>

#include <benchmark/benchmark.h>

namespace mux {

void fd_set_fortified(int fd) {
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd, &set);
  benchmark::DoNotOptimize(&set);
}

}  // namespace mux
