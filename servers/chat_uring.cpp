#include "ServerMain.h"
#include "UringPoller.h"

int main(int argc, char** argv) {
  return mux::server_main(argc, argv,
                          {"chat-uring", "io_uring multishot poll (edge-triggered)", nullptr,
                           [](std::string* error) { return mux::make_uring_poller(error); }});
}
