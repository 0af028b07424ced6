// Rooms and names: who is in which room, and which nicks are taken. Knows nothing of sockets;
// members are opaque Member pointers owned by the caller.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mux {

// 1–32 characters of [A-Za-z0-9_-] (SPEC §2). Returns why not, or nullopt when valid.
std::optional<std::string> invalid_name_reason(std::string_view name);

struct Member {
  std::string nick;
  std::string room;
  std::size_t index_in_room = 0;  // position in the room's member vector: O(1) leave
};

class Rooms {
 public:
  // Registers a new member under the first free guestN name and puts it in `lobby`.
  void admit(Member& m);
  // Removes the member from its room and frees its nick.
  void forget(Member& m);

  // Moves m to `room` (created on first use, deleted when empty).
  void join(Member& m, const std::string& room);
  // Renames m; false if the nick is taken by someone else.
  bool rename(Member& m, const std::string& nick);

  const std::vector<Member*>& members(const std::string& room) const;
  bool nick_taken(std::string_view nick) const { return by_nick_.count(std::string(nick)) != 0; }
  std::size_t room_count() const { return rooms_.size(); }

 private:
  void leave_room(Member& m);

  std::unordered_map<std::string, std::vector<Member*>> rooms_;
  std::unordered_map<std::string, Member*> by_nick_;
  std::uint64_t next_guest_ = 1;
};

}  // namespace mux
