// Rooms and names: who is in which room, and which nicks are taken. Knows nothing of sockets;
// members are opaque Member pointers owned by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mux {

// 1–32 characters of [A-Za-z0-9_-] (docs/protocol.md#the-chat-protocol). Returns why not, or
// nullopt when valid.
std::optional<std::string> invalid_name_reason(std::string_view name);

struct Member {
  std::string nick;
  std::string room;
  std::size_t index_in_room = 0;  // position in the room's member vector: O(1) leave
};

// The room every connection starts in. It is never refused: a cap on rooms must not turn
// connections away (that is --max-conns' job), so the cap keeps a place for it.
inline constexpr std::string_view kLobby = "lobby";

class Rooms {
 public:
  // At most max_rooms rooms exist at once, lobby included (max_rooms ≥ 1).
  explicit Rooms(std::size_t max_rooms = SIZE_MAX) : max_rooms_(max_rooms) {}

  // Registers a new member under the first free guestN name and puts it in `lobby`.
  void admit(Member& m);
  // Removes the member from its room and frees its nick.
  void forget(Member& m);

  // Moves m to `room` (created on first use, deleted when empty). False, and m stays where it
  // was, when `room` would be one room more than max_rooms.
  bool join(Member& m, const std::string& room);
  // Whether join(m, room) would succeed, so that a caller can tell the old room first.
  bool may_join(const Member& m, const std::string& room) const {
    return room == m.room || rooms_.count(room) || may_create(m, room);
  }
  // Renames m; false if the nick is taken by someone else.
  bool rename(Member& m, const std::string& nick);

  const std::vector<Member*>& members(const std::string& room) const;
  bool nick_taken(std::string_view nick) const { return by_nick_.count(std::string(nick)) != 0; }
  std::size_t room_count() const { return rooms_.size(); }
  std::size_t max_rooms() const { return max_rooms_; }

 private:
  void leave_room(Member& m);
  bool may_create(const Member& m, const std::string& room) const;

  std::size_t max_rooms_;
  std::unordered_map<std::string, std::vector<Member*>> rooms_;
  std::unordered_map<std::string, Member*> by_nick_;
  std::uint64_t next_guest_ = 1;
};

}  // namespace mux
