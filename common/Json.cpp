#include "Json.h"

namespace mux {

std::string json_line(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

std::string array_lines(const Json& array) {
  if (array.empty()) return "[]";
  std::string out = "[";
  for (const auto& element : array) out += (out.size() == 1 ? "\n" : ",\n") + json_line(element);
  return out + "\n]";
}

}  // namespace

std::string json_lines(const Json& value) {
  if (value.is_array()) return array_lines(value);
  if (!value.is_object() || value.empty()) return json_line(value);
  std::string out = "{";
  for (const auto& [key, member] : value.items()) {
    out += out.size() == 1 ? "\n" : ",\n";
    out += json_line(key) + ": " + (member.is_array() ? array_lines(member) : json_line(member));
  }
  return out + "\n}";
}

std::variant<nlohmann::json, std::string> parse_json(std::string_view text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number that overflows a double ("number overflow
    // parsing '1E400'", found by the histogram_json and server_output fuzzers): both are input
    // errors. what() is "[json.exception.parse_error.101] parse error at line 1, column 9: ...":
    // the bracketed id means nothing to a user.
    const std::string_view what = e.what();
    const auto id_end = what.find("] ");
    return std::string(id_end == std::string_view::npos ? what : what.substr(id_end + 2));
  }
}

}  // namespace mux
