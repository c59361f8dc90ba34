"""The Python ctypes binding publishes into the ring; a C++ consumer (ring_helper) reads back.

Run by ctest with QSC_RING_LIB (libqsc_ring.so), QSC_RING_HELPER (ring_helper) and PYTHONPATH
(ipc/python) set.
"""

import json
import math
import os
import subprocess
import sys
import unittest

import qsc_ring

HELPER = os.environ["QSC_RING_HELPER"]
CAPACITY = 256
_counter = [0]


def unique_name(tag):
    _counter[0] += 1
    return "qsc_test_py_%s_%d_%d" % (tag, os.getpid(), _counter[0])


class ConsumerProcess:
    """ring_helper consume-json, attached before the test publishes."""

    def __init__(self, name, count):
        self.proc = subprocess.Popen(
            [HELPER, "consume-json", name, str(CAPACITY), str(count), "2000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            raise AssertionError("consumer did not attach: %r %s" % (line, self.proc.stderr.read()))

    def events(self):
        out, err = self.proc.communicate(timeout=30)
        if self.proc.returncode != 0:
            raise AssertionError("consumer failed (%d): %s" % (self.proc.returncode, err))
        lines = out.strip().splitlines()
        return [json.loads(l) for l in lines if l.startswith("{")], lines[-1]


class PythonBindingTest(unittest.TestCase):
    def setUp(self):
        self.name = unique_name("pub")

    def tearDown(self):
        qsc_ring.remove(self.name)

    def test_layout_version(self):
        self.assertEqual(qsc_ring.layout_version(), 2)

    def test_published_events_read_back_in_cpp(self):
        consumer = ConsumerProcess(self.name, 4)
        with qsc_ring.Producer(self.name, CAPACITY) as ring:
            ring.publish({"symbol": "BTCUSDT", "side": "BUY", "confidence": 0.71,
                          "model_breakdown": {
                              "xgb": {"action": "BUY", "confidence": 0.82, "model": "xgboost"},
                              "patchtst": {"action": "HOLD", "confidence": 0.61,
                                           "model": "patchtst", "shadow": False}}},
                         time_ms=1736487795000, seq=3)
            # NaN (json.dumps writes a bare NaN), a logit above 1, shadow and fallback models.
            ring.publish({"symbol": "ETHUSDT", "side": "SELL", "confidence": 0.5,
                          "model_breakdown": {
                              "lgbm": {"action": "SELL", "confidence": float("nan"),
                                       "model": "lightgbm"},
                              "nhits": {"action": "BUY", "confidence": 2.0, "model": "nhits"},
                              "tft": {"action": "HOLD", "confidence": 0.4, "model": "tft",
                                      "shadow": True},
                              "xgb": {"action": "HOLD", "confidence": 0.3,
                                      "model": "xgb_fallback"}}},
                         time_ms=1736487795001)
            # JSON text is accepted as it is, Python's tokens included.
            ring.publish('{"symbol":"SOLUSDT","model_breakdown":{"xgb":{"action":"BUY",'
                         '"confidence":Infinity,"model":"xgboost"}}}', time_ms=1736487795002)
            ring.publish(json.dumps({"model_breakdown": {"xgb": {"action": "sell", "confidence": -0.2,
                                                                  "inactive": True}}}).encode(),
                         time_ms=1736487795003)
        events, tail = consumer.events()
        self.assertEqual(tail, "lost=0")
        self.assertEqual(len(events), 4)

        first = events[0]
        self.assertEqual((first["time_ms"], first["seq"]), (1736487795000, 3))
        self.assertEqual((first["symbol"], first["side"]), ("BTCUSDT", "BUY"))
        self.assertAlmostEqual(first["confidence"], 0.71)
        by_model = {p["model"]: p for p in first["predictions"]}
        self.assertEqual(set(by_model), {"xgb", "patchtst"})
        self.assertEqual(by_model["xgb"]["action"], "BUY")
        self.assertEqual(by_model["xgb"]["model_string"], "xgboost")
        self.assertAlmostEqual(by_model["xgb"]["confidence"], 0.82)
        self.assertEqual(by_model["patchtst"]["inactive"], "")

        second = {p["model"]: p for p in events[1]["predictions"]}
        self.assertEqual(events[1]["side"], "SELL")
        self.assertEqual(second["lgbm"]["status"], "nan")
        self.assertEqual(second["nhits"]["status"], "normalized")
        self.assertAlmostEqual(second["nhits"]["confidence"], 1 / (1 + math.exp(-2.0)))
        self.assertAlmostEqual(second["nhits"]["raw_confidence"], 2.0)
        self.assertEqual(second["tft"]["inactive"], "shadow")
        self.assertEqual(second["xgb"]["inactive"], "fallback")
        self.assertEqual(second["xgb"]["model_string"], "xgb_fallback")

        third = events[2]
        self.assertEqual(third["side"], "")
        self.assertEqual(third["predictions"][0]["status"], "infinite")
        fourth = events[3]["predictions"][0]
        self.assertEqual((fourth["action"], fourth["status"], fourth["inactive"]),
                         ("SELL", "negative", "inactive"))

    def test_refusals_raise_with_the_reason(self):
        with qsc_ring.Producer(self.name, CAPACITY) as ring:
            with self.assertRaises(qsc_ring.RingError) as too_many:
                ring.publish({"model_breakdown": {
                    "m%d" % i: {"action": "BUY", "confidence": 0.5} for i in range(9)}})
            self.assertEqual(too_many.exception.code, qsc_ring.EREFUSED)
            self.assertIn("at most 8", str(too_many.exception))
            with self.assertRaises(qsc_ring.RingError) as long_name:
                ring.publish({"model_breakdown": {"x" * 56: {"action": "BUY", "confidence": 0.5}}})
            self.assertIn("model name", str(long_name.exception))
            with self.assertRaises(qsc_ring.RingError) as malformed:
                ring.publish("{not json")
            self.assertIn("payload", str(malformed.exception))
            with self.assertRaises(TypeError):
                ring.publish(42)
        with self.assertRaises(qsc_ring.RingError):
            ring.publish({})  # closed

    def test_refused_payloads_reach_the_consumer_as_rejected_entries(self):
        # Unreadable telemetry is never invisible: each refusal is a rejected entry with the
        # entry's ID and the parser's (or the layout's) reason, and the next event still flows.
        consumer = ConsumerProcess(self.name, 4)
        with qsc_ring.Producer(self.name, CAPACITY) as ring:
            with self.assertRaises(qsc_ring.RingError) as malformed:
                ring.publish("{not json", time_ms=1736487795010, seq=1)
            self.assertIn("published as a rejected entry", str(malformed.exception))
            with self.assertRaises(qsc_ring.RingError):
                ring.publish({"model_breakdown": {}}, time_ms=1736487795011)
            with self.assertRaises(qsc_ring.RingError):
                ring.publish({"model_breakdown": {
                    "m%d" % i: {"action": "BUY", "confidence": 0.5} for i in range(9)}},
                    time_ms=1736487795012, seq=4)
            ring.publish({"model_breakdown": {"xgb": {"action": "BUY", "confidence": 0.5}}},
                         time_ms=1736487795013)
        events, tail = consumer.events()
        self.assertEqual(tail, "lost=0")
        self.assertEqual(
            [(e.get("rejected"), e.get("id")) for e in events[:3]],
            [("malformed_json", "1736487795010-1"), ("missing_field", "1736487795011-0"),
             ("too_large", "1736487795012-4")])
        self.assertEqual(events[3]["time_ms"], 1736487795013)

    def test_mismatched_capacity_is_refused(self):
        with qsc_ring.Producer(self.name, CAPACITY):
            with self.assertRaises(qsc_ring.RingError) as err:
                qsc_ring.Producer(self.name, CAPACITY * 2)
            self.assertIn("capacity mismatch", str(err.exception))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    passed = result.testsRun - len(result.failures) - len(result.errors)
    print("%d passed, %d failed" % (passed, len(result.failures) + len(result.errors)))
    sys.exit(0 if result.wasSuccessful() else 1)
