// Every chat-* binary is this file: the registry says which mechanisms a binary name serves.
#include "ServerMain.h"

int main(int argc, char** argv) {
  return mux::server_main(argc, argv, MUXBENCH_PROGRAM);
}
