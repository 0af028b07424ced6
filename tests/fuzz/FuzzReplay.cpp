// A fuzz target as a regression test: every file of its corpus folder (tests/fuzz-corpus/NAME:
// the hand-made seeds and each crash the fuzzer found, once fixed) goes through the target's
// LLVMFuzzerTestOneInput in the normal build, so `./bench test` under gcc replays them. A broken
// invariant aborts with its message after the "replaying FILE" line that names the input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(MUXBENCH_FUZZ_CORPUS_DIR))
    if (e.is_regular_file() && e.path().filename().string().front() != '.')
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The suite is named after the target (fuzz_line_framer, ...), so ctest shows which one ran.
TEST(MUXBENCH_FUZZ_SUITE, EveryCorpusFileKeepsTheInvariants) {
  const auto files = corpus_files();
  ASSERT_FALSE(files.empty()) << "no corpus files in " << MUXBENCH_FUZZ_CORPUS_DIR;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", f.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
}

}  // namespace
