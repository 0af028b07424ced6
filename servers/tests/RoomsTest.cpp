#include "Rooms.h"

#include <algorithm>

#include <gtest/gtest.h>

using mux::Member;
using mux::Rooms;

TEST(Names, ValidationFollowsTheProtocol) {
  EXPECT_FALSE(mux::invalid_name_reason("alice"));
  EXPECT_FALSE(mux::invalid_name_reason("A-z_09"));
  EXPECT_FALSE(mux::invalid_name_reason(std::string(32, 'a')));
  EXPECT_TRUE(mux::invalid_name_reason(""));
  EXPECT_TRUE(mux::invalid_name_reason(std::string(33, 'a')));
  EXPECT_TRUE(mux::invalid_name_reason("has space"));
  EXPECT_TRUE(mux::invalid_name_reason("dot."));
  EXPECT_TRUE(mux::invalid_name_reason("caf\xc3\xa9"));
  EXPECT_TRUE(mux::invalid_name_reason(std::string("nul\0x", 5)));
}

TEST(Rooms, AdmitGivesUniqueGuestNamesInLobby) {
  Rooms rooms;
  Member a, b;
  rooms.admit(a);
  rooms.admit(b);
  EXPECT_EQ(a.nick, "guest1");
  EXPECT_EQ(b.nick, "guest2");
  EXPECT_EQ(a.room, "lobby");
  EXPECT_EQ(rooms.members("lobby").size(), 2u);
}

TEST(Rooms, GuestNameTakenByNickIsSkipped) {
  Rooms rooms;
  Member a, b;
  rooms.admit(a);
  ASSERT_TRUE(rooms.rename(a, "guest2"));
  rooms.admit(b);
  EXPECT_EQ(b.nick, "guest3");
}

TEST(Rooms, RenameRefusesATakenNickAndFreesTheOldOne) {
  Rooms rooms;
  Member a, b, c;
  rooms.admit(a);
  rooms.admit(b);
  EXPECT_FALSE(rooms.rename(b, "guest1"));
  EXPECT_TRUE(rooms.rename(a, "alice"));
  EXPECT_FALSE(rooms.nick_taken("guest1"));
  EXPECT_TRUE(rooms.rename(b, "guest1"));
  EXPECT_TRUE(rooms.rename(b, "guest1"));  // renaming to yourself is fine
}

TEST(Rooms, JoinMovesBetweenRoomsAndEmptyRoomsDisappear) {
  Rooms rooms;
  Member a, b, c;
  rooms.admit(a);
  rooms.admit(b);
  rooms.admit(c);
  rooms.join(b, "dev");
  EXPECT_EQ(rooms.members("lobby").size(), 2u);
  ASSERT_EQ(rooms.members("dev").size(), 1u);
  EXPECT_EQ(rooms.members("dev")[0], &b);
  rooms.join(b, "lobby");
  EXPECT_TRUE(rooms.members("dev").empty());
  EXPECT_EQ(rooms.room_count(), 1u);
}

TEST(Rooms, ForgetKeepsTheOtherMembersReachable) {
  // Swap-removal must fix the moved member's index, or its own later leave corrupts the room.
  Rooms rooms;
  Member m[5];
  for (auto& x : m) rooms.admit(x);
  rooms.forget(m[1]);
  rooms.forget(m[4]);
  rooms.forget(m[0]);
  auto list = rooms.members("lobby");
  std::sort(list.begin(), list.end());
  std::vector<Member*> want{&m[2], &m[3]};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(list, want);
  EXPECT_FALSE(rooms.nick_taken("guest2"));
  rooms.forget(m[3]);
  rooms.forget(m[2]);
  EXPECT_EQ(rooms.room_count(), 0u);
}

TEST(Rooms, AtMaxRoomsANewRoomIsRefusedAndTheMemberStays) {
  Rooms rooms(2);  // lobby and one more
  Member a, b;
  rooms.admit(a);
  rooms.admit(b);
  EXPECT_TRUE(rooms.join(a, "red"));
  EXPECT_FALSE(rooms.may_join(b, "blue"));
  EXPECT_FALSE(rooms.join(b, "blue"));
  EXPECT_EQ(b.room, "lobby");
  EXPECT_EQ(rooms.members("lobby").size(), 1u);
  EXPECT_TRUE(rooms.join(b, "red"));  // an existing room
  EXPECT_EQ(rooms.room_count(), 1u);  // lobby emptied, but its place is kept
  EXPECT_FALSE(rooms.join(b, "blue"));
  Member c;
  rooms.admit(c);  // lobby is never refused
  EXPECT_EQ(rooms.room_count(), 2u);
}

TEST(Rooms, TheLastMemberOfARoomMayMoveToANewOneAtTheCap) {
  Rooms rooms(2);
  Member a;
  rooms.admit(a);
  ASSERT_TRUE(rooms.join(a, "red"));
  EXPECT_TRUE(rooms.join(a, "blue"));  // red goes as blue comes
  EXPECT_EQ(rooms.room_count(), 1u);
  EXPECT_TRUE(rooms.members("red").empty());
}
