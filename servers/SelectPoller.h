#pragma once
#include <memory>

#include "Poller.h"

namespace mux {
// kFixed: glibc's fd_set (FD_SETSIZE bits); kDynamic: a heap bitmap sized to the highest fd.
enum class SelectFdSet { kFixed, kDynamic };
std::unique_ptr<Poller> make_select_poller(SelectFdSet kind = SelectFdSet::kFixed);
}  // namespace mux
