// What every fuzz target uses to report a broken invariant: one line naming the invariant and
// the values that broke it, then abort(), which libFuzzer turns into a saved crash file and the
// replay test (FuzzReplay.cpp) into a failed ctest run. "No crash" alone proves little; the
// targets check what the protocol promises and fail loudly when it does not hold.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace mux::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\nINVARIANT VIOLATED: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// check(condition, "format", args...): fail with the formatted text unless condition holds.
template <class... Args>
inline void check(bool ok, fmt::format_string<Args...> f, Args&&... args) {
  if (!ok) fail(fmt::format(f, std::forward<Args>(args)...));
}

// The bytes of a fuzz input, consumed front to back; reads past the end give 0 / empty.
class Input {
 public:
  Input(const unsigned char* data, std::size_t size) : p_(data), left_(size) {}
  bool empty() const { return left_ == 0; }
  unsigned char byte() {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  std::string bytes(std::size_t n) {
    if (n > left_) n = left_;
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    left_ -= n;
    return s;
  }

 private:
  const unsigned char* p_;
  std::size_t left_;
};

}  // namespace mux::fuzz
