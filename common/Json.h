// The one JSON library of the C++ side: nlohmann-json (Debian's nlohmann-json3-dev). Everything
// muxbench writes as JSON (the servers' /stats and --list-mechanisms, loadgen's row and
// --histogram-out, mux-probe) is built as a Json value and printed here, and everything it reads
// goes through parse_json, so that quoting, escaping and number syntax live in the library.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace mux {

// Objects keep their members in the order they were added: the documented field order.
using Json = nlohmann::ordered_json;

// The value on one line, without spaces (`{"name":"poll","args":[]}`). Bytes that are not UTF-8
// (a hostile server's mechanism name, a label) are written as U+FFFD instead of failing.
std::string json_line(const Json& value);

// A document that people read and diff line by line: an array one element per line, an object
// one member per line, and an array member's elements one per line too. Ends without a newline.
std::string json_lines(const Json& value);

// The JSON value in `text`, or why it is not one, with where: "parse error at line 1, column 9:
// syntax error while parsing object separator - unexpected '}'; expected ':'".
std::variant<nlohmann::json, std::string> parse_json(std::string_view text);

}  // namespace mux
