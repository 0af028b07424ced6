#include "SelectPoller.h"
#include "ServerMain.h"

int main(int argc, char** argv) {
  return mux::server_main(argc, argv,
                          {"chat-select", "select(2), fd_set of FD_SETSIZE bits", nullptr,
                           [](std::string*) { return mux::make_select_poller(); }});
}
