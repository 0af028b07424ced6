#include <map>

#include "SelectPoller.h"
#include "ServerMain.h"

int main(int argc, char** argv) {
  mux::SelectFdSet fdset = mux::SelectFdSet::kFixed;
  const std::map<std::string, mux::SelectFdSet> kinds{{"fixed", mux::SelectFdSet::kFixed},
                                                      {"dynamic", mux::SelectFdSet::kDynamic}};
  return mux::server_main(
      argc, argv,
      {"chat-select", "select(2)",
       [&](CLI::App& app) {
         app.add_option("--fdset", fdset,
                        "fixed: glibc's fd_set, refuses descriptors >= FD_SETSIZE (mechanism "
                        "select); dynamic: a heap bitmap sized to the highest descriptor "
                        "(mechanism select-dynamic)")
             ->transform(CLI::CheckedTransformer(kinds, CLI::ignore_case))
             ->capture_default_str();
       },
       [&](std::string*) { return mux::make_select_poller(fdset); }});
}
