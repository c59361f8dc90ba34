// The C ABI over RingProducer. Payloads go through the SDK's parser, so an event published
// from Python reads exactly as the same payload read from Redis would.
#include "qsc/ipc/qsc_ring.h"

#include <ctime>
#include <exception>
#include <new>
#include <string>

#include "qsc/ipc/ring.hpp"
#include "qsc/parse.hpp"

struct qsc_ring_producer {
  qsc::ipc::RingProducer producer;
};

namespace {

thread_local std::string t_last_error;

int fail(int code, std::string message) {
  try {
    t_last_error = std::move(message);
  } catch (...) {
    // Out of memory while recording an error: the code still says what happened.
  }
  return code;
}

std::uint64_t wall_clock_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

extern "C" {

uint32_t qsc_ring_layout_version(void) {
  return qsc::ipc::kLayoutVersion;
}

uint64_t qsc_ring_default_capacity(void) {
  return qsc::ipc::kDefaultCapacityRecords;
}

qsc_ring_producer* qsc_ring_producer_open(const char* name, uint64_t capacity_records) {
  if (name == nullptr) {
    fail(QSC_RING_EINVAL, "qsc_ring_producer_open: name is NULL");
    return nullptr;
  }
  try {
    qsc::ipc::ProducerOptions options;
    options.name = name;
    if (capacity_records != 0) options.capacity_records = capacity_records;
    auto producer = qsc::ipc::RingProducer::open(options);
    if (!producer) {
      fail(QSC_RING_EOPEN, producer.error().message);
      return nullptr;
    }
    t_last_error.clear();
    return new qsc_ring_producer{std::move(producer).value()};
  } catch (const std::exception& e) {
    fail(QSC_RING_EOPEN, std::string("qsc_ring_producer_open: ") + e.what());
  } catch (...) {
    fail(QSC_RING_EOPEN, "qsc_ring_producer_open: unknown failure");
  }
  return nullptr;
}

int qsc_ring_publish_json(qsc_ring_producer* producer, const char* payload_json, size_t payload_len,
                          uint64_t time_ms, uint64_t seq) {
  if (producer == nullptr || payload_json == nullptr) {
    return fail(QSC_RING_EINVAL, "qsc_ring_publish_json: producer or payload is NULL");
  }
  try {
    qsc::StreamEntry entry;
    entry.fields.emplace_back("event_type", "trade.intent");
    entry.fields.emplace_back("payload", std::string(payload_json, payload_len));
    const std::uint64_t id_ms = time_ms != 0 ? time_ms : wall_clock_ms();
    entry.id = std::to_string(id_ms) + "-" + std::to_string(seq);
    auto outcome = qsc::parse_entry(entry);
    if (auto* rejection = std::get_if<qsc::Rejection>(&outcome)) {
      // Unreadable telemetry is published as a rejected entry, so every consumer counts it
      // (the rejected share) instead of never learning it was sent.
      std::string message = rejection->message;
      if (auto st =
              producer->producer.publish_rejected(id_ms, seq, rejection->reason, rejection->field);
          !st) {
        message += "; its rejected-entry record was lost too: " + st.error().message;
      } else {
        message += " (published as a rejected entry)";
      }
      return fail(QSC_RING_EREFUSED, std::move(message));
    }
    auto* event = std::get_if<qsc::TradeIntent>(&outcome);
    if (event == nullptr) return fail(QSC_RING_EREFUSED, "payload is not a trade.intent");
    const std::uint64_t publish_ns = qsc::ipc::monotonic_ns();
    auto record = producer->producer.encode(*event);
    if (!record) {
      // An event the layout cannot hold: a rejected entry too, never nothing.
      std::string message = record.error().message;
      if (auto st = producer->producer.publish_refusal(*event, publish_ns); !st) {
        message += "; its rejected-entry record was lost too: " + st.error().message;
      } else {
        message += " (published as a rejected entry)";
      }
      return fail(QSC_RING_EREFUSED, std::move(message));
    }
    record->publish_ns = publish_ns;
    if (auto st = producer->producer.publish_record(*record); !st) {
      return fail(QSC_RING_EOVERRUN, st.error().message);
    }
    return QSC_RING_OK;
  } catch (const std::exception& e) {
    return fail(QSC_RING_EREFUSED, std::string("qsc_ring_publish_json: ") + e.what());
  } catch (...) {
    return fail(QSC_RING_EREFUSED, "qsc_ring_publish_json: unknown failure");
  }
}

void qsc_ring_producer_close(qsc_ring_producer* producer) {
  delete producer;
}

int qsc_ring_remove(const char* name) {
  if (name == nullptr) return fail(QSC_RING_EINVAL, "qsc_ring_remove: name is NULL");
  try {
    if (auto st = qsc::ipc::remove_ring(name); !st)
      return fail(QSC_RING_EINVAL, st.error().message);
    return QSC_RING_OK;
  } catch (...) {
    return fail(QSC_RING_EINVAL, "qsc_ring_remove: unknown failure");
  }
}

const char* qsc_ring_last_error(void) {
  return t_last_error.c_str();
}

}  // extern "C"
