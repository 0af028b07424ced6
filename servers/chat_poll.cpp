#include "PollPoller.h"
#include "ServerMain.h"

int main(int argc, char** argv) {
  return mux::server_main(argc, argv, {"chat-poll", "poll(2)", nullptr, [](std::string*) {
                                         return mux::make_poll_poller();
                                       }});
}
