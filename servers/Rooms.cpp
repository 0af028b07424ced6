#include "Rooms.h"

#include <cstdint>

#include <fmt/format.h>

namespace mux {

std::optional<std::string> invalid_name_reason(std::string_view name) {
  if (name.empty() || name.size() > 32) {
    return fmt::format("must be 1-32 characters (got {})", name.size());
  }
  for (unsigned char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return "only A-Z a-z 0-9 _ - are allowed";
  }
  return std::nullopt;
}

void Rooms::admit(Member& m) {
  // A user may have taken a guestN name with /nick: skip to the next free one.
  do {
    m.nick = fmt::format("guest{}", next_guest_++);
  } while (by_nick_.count(m.nick));
  by_nick_.emplace(m.nick, &m);
  m.room.clear();
  join(m, std::string(kLobby));
}

void Rooms::forget(Member& m) {
  leave_room(m);
  by_nick_.erase(m.nick);
}

bool Rooms::join(Member& m, const std::string& room) {
  if (!may_join(m, room)) return false;
  leave_room(m);
  auto& list = rooms_[room];
  m.room = room;
  m.index_in_room = list.size();
  list.push_back(&m);
  return true;
}

bool Rooms::may_create(const Member& m, const std::string& room) const {
  if (room == kLobby) return true;
  std::size_t after = rooms_.size() + 1;
  // Lobby's place is kept even while it is empty, so that admit() never exceeds the cap.
  if (!rooms_.count(std::string(kLobby))) ++after;
  // The last member leaving a room deletes it: moving on from there creates nothing in total.
  if (!m.room.empty() && m.room != kLobby && members(m.room).size() == 1) --after;
  return after <= max_rooms_;
}

bool Rooms::rename(Member& m, const std::string& nick) {
  if (nick == m.nick) return true;
  if (!by_nick_.emplace(nick, &m).second) return false;
  by_nick_.erase(m.nick);
  m.nick = nick;
  return true;
}

const std::vector<Member*>& Rooms::members(const std::string& room) const {
  static const std::vector<Member*> kEmpty;
  auto it = rooms_.find(room);
  return it == rooms_.end() ? kEmpty : it->second;
}

void Rooms::leave_room(Member& m) {
  if (m.room.empty()) return;
  auto it = rooms_.find(m.room);
  if (it != rooms_.end()) {
    auto& list = it->second;
    // Swap-remove: order within a room does not matter, and lobby may hold 100k members.
    Member* last = list.back();
    list[m.index_in_room] = last;
    last->index_in_room = m.index_in_room;
    list.pop_back();
    if (list.empty()) rooms_.erase(it);
  }
  m.room.clear();
}

}  // namespace mux
