#include "ServerControl.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>

#include <fmt/format.h>

#include "Json.h"

namespace mux {

std::optional<StatsLine> StatsLine::parse(const std::string& line, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<StatsLine> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto doc = parse_json(line);
  if (auto* why = std::get_if<std::string>(&doc)) return fail(std::move(*why));
  const nlohmann::json& o = std::get<nlohmann::json>(doc);
  if (!o.is_object()) return fail(fmt::format("a JSON {}, not an object", o.type_name()));
  StatsLine s;
  for (const auto& [key, value] : o.items()) {
    if (value.is_structured())
      return fail(fmt::format("\"{}\": an {}, not a counter", key, value.type_name()));
    Value& v = s.values_[key];
    if (value.is_string()) {
      v.text = value.get<std::string>();
    } else {
      v.text = value.dump();
      if (value.is_number_integer() &&
          (!value.is_number_unsigned() || value.get<std::uint64_t>() <= INT64_MAX)) {
        v.number = value.get<std::int64_t>();
      }
    }
  }
  return s;
}

std::optional<std::string> StatsLine::text(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second.text;
}

std::optional<std::int64_t> StatsLine::number(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second.number;
}

std::optional<std::int64_t> StatsLine::minus(const StatsLine& before,
                                             const std::string& key) const {
  const auto b = number(key), a = before.number(key);
  std::int64_t d = 0;
  if (!a || !b || __builtin_sub_overflow(*b, *a, &d)) return std::nullopt;
  return d;
}

namespace {

std::string why_no_line(const LineRead& r, int timeout_ms) {
  switch (r.status) {
    case LineRead::Status::kEof:
      return "the server closed the connection";
    case LineRead::Status::kError:
      return r.error;
    default:
      return fmt::format("timed out after {} s", timeout_ms / 1000);
  }
}

}  // namespace

std::optional<double> StatsLine::cpu_us() const {
  const auto u = number("cpu_user_us"), s = number("cpu_sys_us");
  if (!u || !s || *u < 0 || *s < 0) return std::nullopt;
  return static_cast<double>(*u) + static_cast<double>(*s);
}

bool process_gone(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return true;
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return true;
  const char state = line[close + 2];
  return state == 'Z' || state == 'X';
}

ProcessWatch::ProcessWatch(pid_t pid) : pid_(pid) {
  if (pid_ > 0) fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

ProcessWatch::~ProcessWatch() {
  if (fd_ >= 0) close(fd_);
}

void ProcessWatch::without_fd() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool ProcessWatch::gone(std::uint64_t now_ns) {
  if (gone_ || pid_ <= 0 || fd_ >= 0) return gone_;
  if (now_ns < next_check_ns_) return false;
  next_check_ns_ = now_ns + kPollNs;
  gone_ = process_gone(pid_);
  return gone_;
}

bool ServerControl::peer_closed(int wait_ms) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, wait_ms) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

ServerControl::~ServerControl() {
  if (fd_ >= 0) close(fd_);
}

std::optional<std::string> ServerControl::open(const Endpoint& server, const std::string& room,
                                               std::string* refused_line) {
  auto c = connect_blocking(server, 5000);
  if (auto* err = std::get_if<std::string>(&c)) return *err;
  fd_ = std::get<int>(c);
  auto welcome = read_line(fd_, pending_, 5000);
  if (!welcome.ok()) {
    close(fd_);
    fd_ = -1;
    return fmt::format("no welcome line from {}: {}", server.text, why_no_line(welcome, 5000));
  }
  if (welcome.line.rfind("! ", 0) == 0) {
    if (refused_line) *refused_line = welcome.line;
    close(fd_);
    fd_ = -1;
    return fmt::format("the server refused the control connection: {}", welcome.line);
  }
  if (auto err = write_all(fd_, fmt::format("/join {}\n", room))) return *err;
  const std::string ack = fmt::format("* you joined {}", room);
  for (;;) {
    auto got = read_line(fd_, pending_, 5000);
    if (!got.ok()) {
      return fmt::format("no answer to /join from {}: {}", server.text, why_no_line(got, 5000));
    }
    if (got.line == ack) return std::nullopt;
    if (got.line.rfind("! ", 0) == 0) return fmt::format("/join {} failed: {}", room, got.line);
  }
}

std::variant<StatsLine, std::string> ServerControl::stats(int timeout_ms) {
  if (fd_ < 0) return std::string("no control connection");
  if (auto err = write_all(fd_, "/stats\n")) return *err;
  for (;;) {
    auto got = read_line(fd_, pending_, timeout_ms);
    if (got.status == LineRead::Status::kTimeout) {
      return fmt::format("no answer to /stats within {} ms", timeout_ms);
    }
    if (!got.ok()) return why_no_line(got, timeout_ms);
    if (!got.line.empty() && got.line.front() == '{') {
      if (owed_ > 0) {
        keep_owed(got.line);
        continue;
      }
      std::string why;
      if (auto s = StatsLine::parse(got.line, &why)) return *s;
      return fmt::format("unparseable /stats line ({}): {}", why, got.line);
    }
  }
}

std::optional<std::string> ServerControl::request_stats() {
  if (fd_ < 0) return std::string("no control connection");
  // Seven bytes into an empty socket buffer: the send never waits.
  if (auto err = write_all(fd_, "/stats\n")) return err;
  ++owed_;
  return std::nullopt;
}

void ServerControl::keep_owed(const std::string& line) {
  --owed_;
  // An unparsable answer is dropped: its interval's server CPU stays empty.
  if (auto s = StatsLine::parse(line)) answers_.push_back(Answer{*s, now_ns()});
}

ServerControl::Answers ServerControl::take_answers() {
  Answers out;
  if (fd_ >= 0) {
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        pending_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      out.closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      break;
    }
    for (std::size_t nl; owed_ > 0 && (nl = pending_.find('\n')) != std::string::npos;) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && line.front() == '{') keep_owed(line);
    }
  }
  out.answers.assign(answers_.begin(), answers_.end());
  answers_.clear();
  return out;
}

}  // namespace mux
