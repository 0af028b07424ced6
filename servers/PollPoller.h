#pragma once
#include <memory>

#include "Poller.h"

namespace mux {
std::unique_ptr<Poller> make_poll_poller();
}
