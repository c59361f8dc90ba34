// Writes ring_segment's seed corpus: real segments, made by the real RingProducer, in the
// target's compact form (the SegmentHeader's bytes, then the slots). Built by tests/fuzz/build
// beside the targets; run by hand when the layout changes:
//   build-fuzz/make_ring_seeds tests/fuzz/corpus/ring_segment
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qsc/ipc/layout.hpp"
#include "qsc/ipc/ring.hpp"

namespace {

qsc::TradeIntent event(std::uint64_t time_ms, std::size_t models, double confidence) {
  qsc::TradeIntent e;
  e.time_ms = time_ms;
  e.symbol = "BTCUSDT";
  e.side = qsc::Vote::kBuy;
  e.confidence = confidence;
  const char* names[] = {"xgb", "lgbm", "nhits", "patchtst", "tft", "mlp", "lstm", "arima"};
  for (std::size_t i = 0; i < models; ++i) {
    qsc::Prediction p;
    p.model = names[i % 8];
    p.model_string = std::string(names[i % 8]) + "_model_string_long";
    p.action = static_cast<qsc::Vote>(i % 3);
    p.confidence = 0.1 * static_cast<double>(i + 1);
    p.raw_confidence = p.confidence;
    if (i == 2) p.inactive = qsc::InactiveReason::kShadow;
    if (i == 3) {
      p.confidence = std::nan("");
      p.raw_confidence = p.confidence;
      p.confidence_status = qsc::ConfidenceStatus::kNaN;
    }
    e.predictions.push_back(p);
  }
  return e;
}

int write_seed(const std::string& dir, const std::string& seed, std::uint64_t capacity,
               std::size_t events, std::size_t models, bool rejected) {
  using namespace qsc::ipc;
  const std::string name = "qsc_fuzz_seed_" + std::to_string(::getpid());
  (void)remove_ring(name);
  ProducerOptions options;
  options.name = name;
  options.capacity_records = capacity;
  auto producer = RingProducer::open(options);
  if (!producer) {
    std::fprintf(stderr, "make_ring_seeds: %s\n", producer.error().message.c_str());
    return 1;
  }
  for (std::size_t i = 0; i < events; ++i) {
    auto st = producer->publish(event(1768022423278 + i, models, 0.5 + 0.01 * i));
    if (!st) {
      std::fprintf(stderr, "make_ring_seeds: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  if (rejected) {
    (void)producer->publish_rejected(1768022429999, 0, qsc::RejectReason::kMalformedJson,
                                     "payload");
  }
  std::ifstream in("/dev/shm/" + name, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  (void)remove_ring(name);
  std::vector<char> compact(bytes.begin(), bytes.begin() + sizeof(SegmentHeader));
  compact.insert(compact.end(), bytes.begin() + kHeaderBytes, bytes.end());
  std::ofstream out(dir + "/" + seed, std::ios::binary);
  out.write(compact.data(), static_cast<std::streamsize>(compact.size()));
  return out ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_ring_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  int rc = 0;
  rc |= write_seed(dir, "real_cap2_one_event", 2, 1, 4, false);
  rc |= write_seed(dir, "real_cap4_lap", 4, 6, 4, true);
  rc |= write_seed(dir, "real_cap8_full_models", 8, 5, 8, false);
  rc |= write_seed(dir, "real_cap2_rejected", 2, 0, 0, true);
  return rc;
}
