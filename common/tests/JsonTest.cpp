#include "Json.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace mux {
namespace {

std::string parse_error(std::string_view text) {
  auto doc = parse_json(text);
  const auto* err = std::get_if<std::string>(&doc);
  return err ? *err : "(parsed)";
}

TEST(Json, LineEscapesWhatJsonMustAndKeepsMembersInOrder) {
  const Json v = {{"z", "a \"quoted\" back\\slash"}, {"a", "line\nbreak\x01"}, {"n", nullptr}};
  EXPECT_EQ(json_line(v), R"({"z":"a \"quoted\" back\\slash","a":"line\nbreak\u0001","n":null})");
}

TEST(Json, LineWritesBytesThatAreNotUtf8AsTheReplacementCharacter) {
  EXPECT_EQ(json_line(Json("caf\xc3\xa9 \xff")), "\"caf\xc3\xa9 \xef\xbf\xbd\"");
}

TEST(Json, LinesPutOneElementAndOneMemberPerLine) {
  const Json table = Json::array({{{"name", "poll"}, {"args", Json::array()}}, {{"name", "x"}}});
  EXPECT_EQ(json_lines(table), "[\n{\"name\":\"poll\",\"args\":[]},\n{\"name\":\"x\"}\n]");
  const Json doc = {{"format", "f"},
                    {"scheme", {{"a", 1}, {"b", 2.5}}},
                    {"empty", Json::array()},
                    {"buckets", {{{"index", 1}}, {{"index", 2}}}}};
  EXPECT_EQ(json_lines(doc),
            "{\n\"format\": \"f\",\n\"scheme\": {\"a\":1,\"b\":2.5},\n\"empty\": [],\n"
            "\"buckets\": [\n{\"index\":1},\n{\"index\":2}\n]\n}");
  EXPECT_EQ(json_lines(Json::object()), "{}");
  EXPECT_EQ(nlohmann::json::parse(json_lines(doc)), nlohmann::json::parse(json_line(doc)));
}

TEST(Json, ParseSaysWhatWasExpectedAndWhere) {
  auto doc = parse_json(R"({"a": [1, 2], "b": "c"})");
  ASSERT_TRUE(std::holds_alternative<nlohmann::json>(doc));
  EXPECT_EQ(std::get<nlohmann::json>(doc)["b"], "c");
  EXPECT_EQ(parse_error(R"({"a" 1})"),
            "parse error at line 1, column 6: syntax error while parsing object separator - "
            "unexpected number literal; expected ':'");
  EXPECT_EQ(parse_error("{\n\"a\": 1,\n}"),
            "parse error at line 3, column 1: syntax error while parsing object key - unexpected "
            "'}'; expected string literal");
  EXPECT_NE(parse_error("").find("unexpected end of input"), std::string::npos);
  EXPECT_NE(parse_error("{} x").find("expected end of input"), std::string::npos);
}

TEST(Json, ANumberTooLargeForADoubleIsAnErrorNotAnException) {
  // nlohmann::json throws out_of_range, not parse_error, for these: the fuzzers found the
  // histogram reader and the /stats parser terminating on them.
  EXPECT_EQ(parse_error(R"({"count": 1E400})"), "number overflow parsing '1E400'");
  EXPECT_NE(parse_error("92233720368547e5807").find("number overflow"), std::string::npos);
}

}  // namespace
}  // namespace mux
