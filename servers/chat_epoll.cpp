#include "EpollPoller.h"
#include "ServerMain.h"

int main(int argc, char** argv) {
  bool edge = false;
  return mux::server_main(
      argc, argv,
      {"chat-epoll", "epoll(7), level-triggered unless --edge",
       [&](CLI::App& app) {
         app.add_flag("--edge", edge, "edge-triggered (EPOLLET): mechanism name epoll-et");
       },
       [&](std::string* error) { return mux::make_epoll_poller(edge, error); }});
}
