// Fuzz target: a byte stream from a Redis server, fed to hiredis's reply reader (the parser
// behind every RedisClient command), and each reply it yields walked the way RedisSource reads
// XRANGE (an entry list) and XREAD (streams of entry lists) replies, each entry then parsed as
// the source parses it. A malformed stream is a protocol error, a reply of the wrong shape is
// refused; nothing may crash.
//
// The walk is RedisSource's own (for_each_entry, internal to redis_source.cpp): the source
// file is compiled into this target so that the code under test is the code that runs.
#include <hiredis/hiredis.h>

#include <cstdint>

#include "telemetry/redis_source.cpp"  // NOLINT: see above

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return 0;
  qsc::agent::limit_reply_arrays(reader);  // as RedisClient::connect limits its reader
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) != REDIS_OK) {
    redisReaderFree(reader);
    return 0;
  }
  const auto parse = [](const qsc::StreamEntry& entry) {
    (void)qsc::parse_entry(entry);
    (void)qsc::agent::StreamId::parse(entry.id);
  };
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK || raw == nullptr) break;
    qsc::agent::RedisReplyPtr reply(static_cast<redisReply*>(raw));
    (void)qsc::agent::for_each_entry(reply.get(), parse);  // XRANGE's shape
    if (reply->type == REDIS_REPLY_ARRAY) {                // XREAD's shape
      for (std::size_t s = 0; s < reply->elements; ++s) {
        const redisReply* stream = reply->element[s];
        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) break;
        (void)qsc::agent::for_each_entry(stream->element[1], parse);
      }
    }
  }
  redisReaderFree(reader);
  return 0;
}
