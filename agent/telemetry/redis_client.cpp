// hiredis wrapper. Every failure becomes an Error whose message names the address and what to
// do; the password never appears in one.
#include "telemetry/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <utility>

namespace qsc::agent {

namespace {

// hiredis's own reply builders (static in hiredis.c): taken from a fresh reader.
const redisReplyObjectFunctions& default_reply_functions() noexcept {
  static const redisReplyObjectFunctions defaults = [] {
    redisReplyObjectFunctions fn{};
    if (redisReader* r = redisReaderCreate(); r != nullptr) {
      if (r->fn != nullptr) fn = *r->fn;
      redisReaderFree(r);
    }
    return fn;
  }();
  return defaults;
}

void* create_limited_array(const redisReadTask* task, int elements) {
  // nullptr makes hiredis fail the read (REDIS_ERR_OOM) before anything is allocated.
  if (elements > kMaxReplyArrayElements) return nullptr;
  return default_reply_functions().createArray(task, elements);
}

redisReplyObjectFunctions limited_reply_functions() noexcept {
  redisReplyObjectFunctions fn = default_reply_functions();
  if (fn.createArray != nullptr) fn.createArray = create_limited_array;
  return fn;
}

}  // namespace

void limit_reply_arrays(redisReader* reader) noexcept {
  static redisReplyObjectFunctions limited = limited_reply_functions();
  if (reader != nullptr && limited.createArray == create_limited_array) reader->fn = &limited;
}

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Upper-cased command name: messages name the command, never its arguments (AUTH's are secret).
std::string command_name(const std::vector<std::string_view>& args) {
  std::string name = args.empty() ? std::string("?") : std::string(args.front());
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

constexpr std::string_view kUrlForms =
    "redis://[:password@]host:port/db or unix:///path/to/redis.sock";

}  // namespace

Result<RedisOptions> RedisOptions::from_url(std::string_view url) {
  return from_url(url, std::getenv(kRedisPasswordEnv));
}

Result<RedisOptions> RedisOptions::from_url(std::string_view url, const char* env_password) {
  RedisOptions o;
  // Messages about a bad URL must not echo it: it may hold the password.
  auto bad = [](std::string_view why) {
    return Error{"telemetry.redis_url (or QSC_REDIS_URL) is not a Redis URL: " + std::string(why) +
                 "; expected " + std::string(kUrlForms)};
  };
  if (starts_with(url, "rediss://")) {
    return Error{
        "telemetry.redis_url uses rediss:// (TLS), which this build's hiredis 0.14 "
        "cannot speak: use redis:// on a trusted network or a local TLS tunnel"};
  }
  if (starts_with(url, "unix://")) {
    auto rest = url.substr(7);
    if (auto q = rest.find('?'); q != std::string_view::npos) {
      auto query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      for (std::size_t start = 0; start <= query.size();) {
        auto end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        auto kv = query.substr(start, end - start);
        if (starts_with(kv, "db=")) {
          auto db = parse_int(kv.substr(3));
          if (!db || *db < 0) return bad("the db= query is not a database number");
          o.db = *db;
        } else if (starts_with(kv, "password=")) {
          o.password = percent_decode(kv.substr(9));
        } else if (!kv.empty()) {
          return bad("unknown query parameter (only db= and password= are understood)");
        }
        start = end + 1;
      }
    }
    if (rest.empty() || rest.front() != '/') return bad("the socket path must be absolute");
    o.unix_path = std::string(rest);
  } else if (starts_with(url, "redis://")) {
    auto rest = url.substr(8);
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
      auto userinfo = rest.substr(0, at);
      rest = rest.substr(at + 1);
      if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
        o.username = percent_decode(userinfo.substr(0, colon));
        o.password = percent_decode(userinfo.substr(colon + 1));
      } else {
        // redis://secret@host: the lone userinfo is the password, as redis-py reads it.
        o.password = percent_decode(userinfo);
      }
    }
    std::string_view hostport = rest;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      hostport = rest.substr(0, slash);
      auto db_text = rest.substr(slash + 1);
      if (!db_text.empty()) {
        auto db = parse_int(db_text);
        if (!db || *db < 0) return bad("the path after the port must be a database number");
        o.db = *db;
      }
    }
    std::string_view port_text;
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
      auto close = hostport.find(']');
      if (close == std::string_view::npos) return bad("unclosed [ in an IPv6 address");
      o.host = std::string(hostport.substr(1, close - 1));
      auto after = hostport.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return bad("expected :port after the IPv6 address");
        port_text = after.substr(1);
      }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
      o.host = std::string(hostport.substr(0, colon));
      port_text = hostport.substr(colon + 1);
    } else if (!hostport.empty()) {
      o.host = std::string(hostport);
    }
    if (o.host.empty()) o.host = "127.0.0.1";
    if (!port_text.empty()) {
      auto port = parse_int(port_text);
      if (!port || *port < 1 || *port > 65535) return bad("the port must be 1-65535");
      o.port = *port;
    }
  } else {
    return bad("unknown scheme");
  }
  if (o.password.empty() && env_password != nullptr) o.password = env_password;
  return o;
}

std::string RedisOptions::address() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

void RedisReplyDeleter::operator()(redisReply* reply) const noexcept {
  freeReplyObject(reply);
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::RedisClient(RedisClient&& other) noexcept
    : options_(std::move(other.options_)),
      context_(std::exchange(other.context_, nullptr)),
      current_timeout_(other.current_timeout_) {}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    disconnect();
    options_ = std::move(other.options_);
    context_ = std::exchange(other.context_, nullptr);
    current_timeout_ = other.current_timeout_;
  }
  return *this;
}

RedisClient::~RedisClient() {
  disconnect();
}

void RedisClient::disconnect() noexcept {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

Status RedisClient::connect() {
  if (context_ != nullptr) return ok_status();
  const auto tv = to_timeval(options_.connect_timeout);
  redisContext* c = options_.unix_path.empty()
                        ? redisConnectWithTimeout(options_.host.c_str(), options_.port, tv)
                        : redisConnectUnixWithTimeout(options_.unix_path.c_str(), tv);
  if (c == nullptr) return Error{"cannot allocate a Redis connection to " + options_.address()};
  if (c->err != 0) {
    const std::string why = c->errstr;
    redisFree(c);
    const auto addr = options_.address();
    if (contains(why, "refused")) {
      return Error{"Redis refused at " + addr +
                   ": start it with systemctl start redis (or point telemetry.redis_url / "
                   "QSC_REDIS_URL at the right host and port)"};
    }
    if (!options_.unix_path.empty() && contains(why, "No such file")) {
      return Error{"Redis socket " + options_.unix_path +
                   " does not exist: start it with systemctl start redis, or fix the unix:// "
                   "path in telemetry.redis_url"};
    }
    if (contains(why, "timed out") || contains(why, "temporarily unavailable")) {
      return Error{"Redis did not accept a connection at " + addr + " within " +
                   std::to_string(options_.connect_timeout.count()) +
                   " ms: check the host, the port and any firewall (telemetry.redis_url)"};
    }
    if (contains(why, "not known") || contains(why, "resolve") || contains(why, "getaddrinfo")) {
      return Error{"Redis host " + options_.host + " could not be resolved (" + why +
                   "): fix the host in telemetry.redis_url"};
    }
    return Error{"cannot connect to Redis at " + addr + ": " + why +
                 ": check that it runs (systemctl status redis) and telemetry.redis_url"};
  }
  limit_reply_arrays(c->reader);
  context_ = c;
  current_timeout_ = std::chrono::milliseconds{0};
  // Handshake: each step's failure already has its own message from command().
  if (!options_.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    if (auto r = command(auth); !r) {
      disconnect();
      return std::move(r).error();
    }
  }
  if (options_.db != 0) {
    const auto db = std::to_string(options_.db);
    if (auto r = command({"SELECT", db}); !r) {
      disconnect();
      return std::move(r).error();
    }
  }
  // PING proves it is Redis and, without a password, whether one is needed.
  auto pong = command({"PING"});
  if (!pong) {
    disconnect();
    return std::move(pong).error();
  }
  return ok_status();
}

Status RedisClient::set_timeout(std::chrono::milliseconds timeout) {
  if (timeout == current_timeout_) return ok_status();
  if (redisSetTimeout(context_, to_timeval(timeout)) != REDIS_OK) {
    return io_error("setting the socket timeout");
  }
  current_timeout_ = timeout;
  return ok_status();
}

Error RedisClient::io_error(std::string_view during) {
  const int err = context_ != nullptr ? context_->err : REDIS_ERR_OTHER;
  const std::string why = context_ != nullptr ? context_->errstr : "no connection";
  // A context that failed once is unusable (hiredis leaves its buffers undefined).
  disconnect();
  const auto addr = options_.address();
  const std::string what(during);
  if (err == REDIS_ERR_EOF || contains(why, "closed") || contains(why, "reset")) {
    return Error{"Redis at " + addr + " closed the connection during " + what +
                 ": it may have restarted or be refusing clients (check systemctl status redis)"};
  }
  if (contains(why, "temporarily unavailable") || contains(why, "timed out")) {
    return Error{"Redis at " + addr + " did not answer " + what + " within " +
                 std::to_string(current_timeout_.count()) +
                 " ms: check that this port is Redis (telemetry.redis_url) and that it is not "
                 "overloaded"};
  }
  if (err == REDIS_ERR_PROTOCOL) {
    return Error{"the server at " + addr + " does not speak the Redis protocol (" + why +
                 "): check the port in telemetry.redis_url"};
  }
  if (err == REDIS_ERR_OOM) {
    return Error{"Redis at " + addr + ": " + what + " failed: the reply announced an array of " +
                 "more than " + std::to_string(kMaxReplyArrayElements) +
                 " elements, or memory ran out: check that telemetry.redis_url points at Redis"};
  }
  return Error{"Redis at " + addr + ": " + what + " failed: " + why};
}

Error RedisClient::reply_error(std::string_view command, std::string_view error) const {
  const auto addr = options_.address();
  if (starts_with(error, "NOAUTH")) {
    return Error{"Redis at " + addr + " requires a password: set " + kRedisPasswordEnv +
                 " or put it in the URL (redis://:PASSWORD@host:port/db)"};
  }
  if (starts_with(error, "WRONGPASS") || contains(error, "invalid password") ||
      contains(error, "invalid username-password")) {
    return Error{"Redis at " + addr + " rejected the password" +
                 (options_.username.empty() ? std::string() : " for user " + options_.username) +
                 ": set the right one in " + kRedisPasswordEnv +
                 " or in the URL (redis://:PASSWORD@host:port/db)"};
  }
  if (contains(error, "without any password configured")) {
    return Error{"Redis at " + addr +
                 " has no password configured but one was given: remove "
                 "it from the URL and " +
                 kRedisPasswordEnv + ", or set requirepass on the server"};
  }
  if (contains(error, "DB index is out of range")) {
    return Error{"Redis at " + addr + " has no database " + std::to_string(options_.db) +
                 ": use a database number below the server's `databases` setting in "
                 "telemetry.redis_url"};
  }
  if (starts_with(error, "LOADING")) {
    return Error{"Redis at " + addr + " is still loading its data set: retry in a moment"};
  }
  return Error{"Redis at " + addr + ": " + std::string(command) + " failed: " + std::string(error)};
}

Result<RedisReplyPtr> RedisClient::command(const std::vector<std::string_view>& args,
                                           std::optional<std::chrono::milliseconds> timeout) {
  if (context_ == nullptr) {
    if (auto s = connect(); !s) return std::move(s).error();
  }
  if (auto s = set_timeout(timeout.value_or(options_.command_timeout)); !s) {
    return std::move(s).error();
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), argvlen.data()));
  const auto name = command_name(args);
  if (raw == nullptr) return io_error(name);
  RedisReplyPtr reply(raw);
  if (reply->type == REDIS_REPLY_ERROR) {
    return reply_error(name, std::string_view(reply->str, reply->len));
  }
  return reply;
}

Result<std::string> RedisClient::key_type(std::string_view key) {
  auto reply = command({"TYPE", key});
  if (!reply) return std::move(reply).error();
  const auto* r = reply.value().get();
  if (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING) {
    return Error{"Redis at " + options_.address() + " answered TYPE with an unexpected reply"};
  }
  return std::string(r->str, r->len);
}

}  // namespace qsc::agent
