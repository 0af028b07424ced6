// Net.h's parsing: the address lists of --idle-sources / --idle-destinations, and --host.
#include "Net.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mux {
namespace {

std::vector<std::string> texts(std::string_view list) {
  auto parsed = parse_ipv4_list(list, "--idle-sources");
  if (auto* err = std::get_if<std::string>(&parsed)) return {"error: " + *err};
  std::vector<std::string> out;
  for (in_addr a : std::get<std::vector<in_addr>>(parsed)) out.push_back(ipv4_text(a));
  return out;
}

std::string error_of(std::string_view list) {
  auto parsed = parse_ipv4_list(list, "--idle-destinations");
  auto* err = std::get_if<std::string>(&parsed);
  return err ? *err : "(parsed)";
}

TEST(AddressList, AddressesAndInclusiveRangesInTheOrderGiven) {
  EXPECT_EQ(texts("127.0.0.9"), (std::vector<std::string>{"127.0.0.9"}));
  EXPECT_EQ(texts("198.18.1.1-198.18.1.3,198.18.2.1"),
            (std::vector<std::string>{"198.18.1.1", "198.18.1.2", "198.18.1.3", "198.18.2.1"}));
  EXPECT_EQ(texts("127.0.0.5-127.0.0.5"), (std::vector<std::string>{"127.0.0.5"}));
  // A range crosses octet boundaries as numbers do.
  EXPECT_EQ(texts("10.0.0.255-10.0.1.1"),
            (std::vector<std::string>{"10.0.0.255", "10.0.1.0", "10.0.1.1"}));
  EXPECT_EQ(texts("127.0.0.3,127.0.0.1"), (std::vector<std::string>{"127.0.0.3", "127.0.0.1"}));
}

TEST(AddressList, BadItemsAreNamed) {
  EXPECT_EQ(error_of("127.0.0.1,127.0.0.x"),
            "--idle-destinations 127.0.0.x: 127.0.0.x is not an IPv4 address (use A.B.C.D or a "
            "range A.B.C.D-E.F.G.H)");
  EXPECT_EQ(error_of("127.0.0.1,,127.0.0.2"),
            "--idle-destinations 127.0.0.1,,127.0.0.2: an empty item (two commas in a row?)");
  EXPECT_EQ(error_of(""), "--idle-destinations: give at least one address");
  EXPECT_NE(error_of("127.0.0.1-").find("\"\" is not an IPv4 address"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1-127.0.0.2-127.0.0.3").find("127.0.0.2-127.0.0.3 is not"),
            std::string::npos);
  EXPECT_NE(error_of("localhost").find("localhost is not an IPv4 address"), std::string::npos);
  EXPECT_NE(error_of("127.1").find("127.1 is not an IPv4 address"), std::string::npos);
}

TEST(AddressList, ReversedRangeSaysHowToWriteIt) {
  EXPECT_EQ(error_of("127.0.0.9-127.0.0.2"),
            "--idle-destinations 127.0.0.9-127.0.0.2: the range is reversed (write it as "
            "127.0.0.2-127.0.0.9)");
}

TEST(AddressList, Ipv6IsRefusedClearly) {
  EXPECT_EQ(error_of("::1"),
            "--idle-destinations ::1: ::1 is an IPv6 address; the idle holders connect over IPv4 "
            "only (give IPv4 addresses)");
}

TEST(AddressList, AnAddressGivenTwiceIsAnError) {
  EXPECT_EQ(error_of("127.0.0.1-127.0.0.4,127.0.0.3"),
            "--idle-destinations 127.0.0.3: 127.0.0.3 is already in the list");
}

TEST(AddressList, HugeRangesAreRefusedBeforeExpanding) {
  EXPECT_EQ(error_of("10.0.0.1-10.255.0.1"),
            "--idle-destinations 10.0.0.1-10.255.0.1: more than 65536 addresses in the list");
  EXPECT_EQ(texts("10.0.0.0-10.0.255.255").size(), 65536u);
}

TEST(Resolve, TheWildcardAServerListensOnMeansLoopback) {
  auto e = resolve("0.0.0.0", 8002);
  ASSERT_TRUE(std::holds_alternative<Endpoint>(e)) << std::get<std::string>(e);
  EXPECT_EQ(std::get<Endpoint>(e).text, "127.0.0.1:8002");
  EXPECT_TRUE(std::get<Endpoint>(e).loopback());
}

}  // namespace
}  // namespace mux
