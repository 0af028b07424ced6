// The command line and life cycle shared by every chat-* binary (SPEC §3). A binary only says
// which backend it builds and which options that backend adds.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "Poller.h"

namespace mux {

struct Backend {
  std::string program;      // "chat-epoll"
  std::string description;  // one line for --help
  std::function<void(CLI::App&)> add_options;
  // Builds the poller after the options are parsed; on failure returns null and says why.
  std::function<std::unique_ptr<Poller>(std::string* error)> create;
};

int server_main(int argc, char** argv, const Backend& backend);

}  // namespace mux
