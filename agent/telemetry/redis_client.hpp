// A small blocking Redis client over hiredis 0.14: URL parsing, connect with AUTH/SELECT, and
// commands whose failures come back as values with messages that name the address and the fix.
// The password is kept only in RedisOptions and is never part of any message or description.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/result.hpp"

struct redisContext;
struct redisReply;
struct redisReader;

namespace qsc::agent {

/// The environment variable that supplies a password when the URL has none.
inline constexpr const char* kRedisPasswordEnv = "QSC_REDIS_PASSWORD";

/// Where and how to connect.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;  ///< non-empty: connect to this Unix socket instead of host:port
  std::string username;   ///< ACL user (Redis 6+); empty: the default user
  std::string password;   ///< empty: no AUTH
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};

  /// Parses `redis://[[user]:password@]host[:port][/db]` or `unix:///path[?db=N]`; the
  /// password is percent-decoded; without one in the URL, `env_password` (normally
  /// $QSC_REDIS_PASSWORD) is used. `rediss://` (TLS) is refused: hiredis 0.14 has no TLS.
  static Result<RedisOptions> from_url(std::string_view url, const char* env_password);
  /// As above with $QSC_REDIS_PASSWORD.
  static Result<RedisOptions> from_url(std::string_view url);

  /// "127.0.0.1:6379" or "unix:/run/redis.sock": for messages, never with the password.
  std::string address() const;
};

/// The most elements one reply array may announce. hiredis 0.14 allocates an announced array
/// at once, so a server that is not Redis (or a corrupted stream) announcing a billion elements
/// would cost gigabytes before sending any (found by tests/fuzz/redis_reply). A page of
/// telemetry.redis page_entries entries is an array of at most a few thousand.
inline constexpr int kMaxReplyArrayElements = 1 << 20;

/// Makes `reader` refuse a reply array announcing more than kMaxReplyArrayElements elements
/// (hiredis then fails the read with its out-of-memory error, REDIS_ERR_OOM). Every
/// RedisClient connection's reader is limited so.
void limit_reply_arrays(redisReader* reader) noexcept;

/// Frees a hiredis reply.
struct RedisReplyDeleter {
  void operator()(redisReply* reply) const noexcept;
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

/// One blocking connection. After an I/O error the connection is dropped and the next
/// command reconnects; callers that need to resume do so from their own position.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;
  ~RedisClient();

  /// Connects (if not connected), authenticates, selects the database and PINGs, so a port
  /// where something other than Redis listens fails here with its own message.
  Status connect();
  /// True while a connection is open.
  bool connected() const noexcept { return context_ != nullptr; }
  /// Closes the connection (the next command reconnects).
  void disconnect() noexcept;

  /// Runs one command. An I/O failure or an error reply is an Error whose message names the
  /// address and, for the errors a user can fix (password, database), the fix. `timeout`
  /// overrides the command timeout for this call (XREAD BLOCK needs longer).
  Result<RedisReplyPtr> command(const std::vector<std::string_view>& args,
                                std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// The Redis type of `key` ("stream", "string", "none", ...).
  Result<std::string> key_type(std::string_view key);

  const RedisOptions& options() const noexcept { return options_; }

 private:
  Status set_timeout(std::chrono::milliseconds timeout);
  Error io_error(std::string_view during);
  Error reply_error(std::string_view command, std::string_view error) const;

  RedisOptions options_;
  redisContext* context_ = nullptr;
  std::chrono::milliseconds current_timeout_{0};
};

}  // namespace qsc::agent
