/* The QSC plugin ABI 2: the C boundary between the agent (the host) and a detector or action
 * plugin. Plain C (C11 and C++20 compile it); nothing of C++ crosses it: no std::string, no
 * vector, no exception, no JSON object. docs/writing-a-detector.md shows a plugin in C and in the
 * C++ layer built on top of this (qsc/plugin.hpp).
 *
 * A plugin is one shared library exporting two symbols:
 *   qsc_plugin_abi         struct qsc_plugin_abi: {major, minor, descriptor_size}. Read first;
 *                          its layout is the same in every major version, so a host can tell a
 *                          plugin of another major and refuse it without reading anything else.
 *   qsc_plugin_descriptor  struct qsc_plugin_descriptor: what the plugin is and its functions.
 *
 * Versioning rules (docs/design.md, "Plugin ABI"):
 *   - The major changes when a field is removed, retyped or moved; a host loads only its own
 *     major (an ABI 1 plugin is refused: rebuild it against SDK 2).
 *   - A minor version only APPENDS fields at the end of a struct. Every versioned struct starts
 *     with `struct_size` (the sizeof its writer was built with), and a reader reads a field only
 *     when struct_size covers it (QSC_ABI_HAS); a field it does not cover reads as its default.
 *     So a plugin built against 2.0 loads in any 2.x host, and a plugin built against a newer
 *     2.y loads in an older 2.x host (which ignores what it does not know).
 *   - Arrays of versioned structs are arrays of POINTERS, so an appended field never moves the
 *     next element.
 *
 * Ownership and lifetime:
 *   - Everything the host passes in (input, incident, strings, arrays) is owned by the host and
 *     valid only during the call it is passed to; copy what you keep.
 *   - Results go back through the host's sinks (qsc_check_sink, qsc_outcome_sink, qsc_text_sink):
 *     the host copies the bytes during the sink call, so the plugin's buffer need only live until
 *     the sink returns. A sink may be called only during the call that received it.
 *   - The descriptor, its strings and the config schema are the plugin's static data: valid while
 *     the library is loaded.
 *   - Every function must return normally: a C++ plugin catches its exceptions inside (the C++
 *     layer does), a crash or hang is handled by the supervised monitor, never by the ABI.
 *   - One instance is called from one thread at a time.
 */
#ifndef QSC_PLUGIN_ABI_H
#define QSC_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define QSC_PLUGIN_ABI_MAJOR 2
#define QSC_PLUGIN_ABI_MINOR 5

#if defined(__GNUC__)
#define QSC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define QSC_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* True when the struct at `ptr` (of type `type`, which starts with struct_size) holds `field`. */
#define QSC_ABI_HAS(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((const type*)0)->field))

/* A string that is not necessarily NUL-terminated: `length` bytes at `data` (data may be NULL
 * when length is 0). */
typedef struct qsc_str {
  const char* data;
  size_t length;
} qsc_str;

/* ---- What a plugin is ------------------------------------------------------------------ */

/* The first symbol the host reads (exported as `qsc_plugin_abi`). Same layout in every major. */
struct qsc_plugin_abi {
  uint32_t major;           /* QSC_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t minor;           /* QSC_PLUGIN_ABI_MINOR */
  uint32_t descriptor_size; /* sizeof(struct qsc_plugin_descriptor) the plugin was built with */
};

enum qsc_plugin_kind { QSC_KIND_DETECTOR = 1, QSC_KIND_ACTION = 2 };

/* What a detector judges, so that the gate, the scoreboard and the monitor run it alike. */
enum qsc_detector_scope {
  /* One model (input->canary): the monitor runs it on the canary; the gate and the scoreboard
   * on every model of the window, so a new per-model check blocks a deployment. */
  QSC_SCOPE_EACH_MODEL = 0,
  /* The live canary's watch (telemetry flow, live/shadow state): only the monitor runs it. */
  QSC_SCOPE_CANARY_ONLY = 1,
  /* The ensemble (input->window->ensemble): once per window everywhere. */
  QSC_SCOPE_ENSEMBLE = 2
};

/* Descriptor flags: what the agent needs to know of an action without knowing its name.
 * An action without QSC_FLAG_BEST_EFFORT is essential: its failure fails the transition. */
#define QSC_FLAG_ESSENTIAL UINT64_C(0)
/* Its failure is reported but never fails a transition (a pager that is down must not stop a
 * rollback). Such an action also runs last in a rollback, once the postconditions were checked,
 * and sees them among the earlier outcomes (a page must not say "rolled back" before that). */
#define QSC_FLAG_BEST_EFFORT (UINT64_C(1) << 0)
/* It writes the service manager's drop-in directory (systemd.dropin_dir): when this process
 * cannot write there, activation and promotion skip it with the manual commands printed, and a
 * rollback skips it when no drop-in was ever installed. */
#define QSC_FLAG_NEEDS_PRIVILEGE (UINT64_C(1) << 1)
/* It restores the baseline weights and removes the canary's files: the agent's built-in
 * rollback can stand in for it when the plugin cannot run (not loaded, crashed, bypassed). */
#define QSC_FLAG_RESTORES_WEIGHTS (UINT64_C(1) << 2)
/* It reloads and restarts the engine's service: the built-in rollback can stand in for it. */
#define QSC_FLAG_RESTARTS_SERVICES (UINT64_C(1) << 3)
/* Every flag this ABI version defines; the host refuses a descriptor with any other bit set. */
#define QSC_FLAG_KNOWN                                                           \
  (QSC_FLAG_BEST_EFFORT | QSC_FLAG_NEEDS_PRIVILEGE | QSC_FLAG_RESTORES_WEIGHTS | \
   QSC_FLAG_RESTARTS_SERVICES)

/* ---- Check input (host -> detector) ---------------------------------------------------- */

enum qsc_vote { QSC_VOTE_BUY = 0, QSC_VOTE_SELL = 1, QSC_VOTE_HOLD = 2 };
#define QSC_VOTE_KINDS 3

enum qsc_confidence_status {
  QSC_CONFIDENCE_OK = 0,         /* in [0, 1] as sent */
  QSC_CONFIDENCE_NORMALIZED = 1, /* above 1: a logit, mapped through the sigmoid */
  QSC_CONFIDENCE_NEGATIVE = 2,   /* violation */
  QSC_CONFIDENCE_NAN = 3,        /* violation */
  QSC_CONFIDENCE_INFINITE = 4,   /* violation */
  QSC_CONFIDENCE_NOT_NUMBER = 5  /* violation: a string, bool, null, object or array */
};
#define QSC_CONFIDENCE_STATUSES 6

enum qsc_inactive_reason {
  QSC_ACTIVE = 0,
  QSC_INACTIVE_SHADOW = 1,
  QSC_INACTIVE_INACTIVE = 2,
  QSC_INACTIVE_FALLBACK = 3
};

/* One model's figures over the window (the SDK's qsc::ModelStats). */
typedef struct qsc_model_stats {
  uint32_t struct_size;
  qsc_str model;
  uint64_t predictions;                        /* all predictions, active or not */
  uint64_t votes[QSC_VOTE_KINDS];              /* indexed by qsc_vote */
  double share_pct[QSC_VOTE_KINDS];            /* votes x 100 / predictions; 0 when empty */
  uint64_t confidence_samples;                 /* predictions with a usable confidence */
  double conf_mean;                            /* NaN when there are no samples (likewise below) */
  double conf_std;                             /* population standard deviation */
  double p10;                                  /* numpy.percentile(..., 10) */
  double p90;                                  /* numpy.percentile(..., 90) */
  double range;                                /* p90 - p10 */
  uint64_t normalized;                         /* logits mapped through the sigmoid */
  uint64_t confidence_violations;              /* negative, NaN, infinite, not a number */
  uint64_t by_status[QSC_CONFIDENCE_STATUSES]; /* indexed by qsc_confidence_status */
  uint64_t inactive;                           /* shadow, inactive or fallback predictions */
  uint32_t last_inactive_reason;               /* qsc_inactive_reason of the newest inactive one */
  uint32_t newest_inactive;                    /* the newest prediction's qsc_inactive_reason */
  /* ABI 2.1 and later append here. */
} qsc_model_stats;

/* The ensemble's figures (the SDK's qsc::EnsembleStats). */
typedef struct qsc_ensemble_stats {
  uint32_t struct_size;
  uint64_t events;          /* events with at least one active vote */
  double agreement_pct;     /* NaN when empty */
  double hard_disagree_pct; /* NaN when empty */
  /* ABI 2.1 and later append here (e.g. the ensemble's figures without the canary). */
} qsc_ensemble_stats;

/* The window: every model's figures and the ensemble's (the SDK's qsc::WindowStats). */
typedef struct qsc_window_stats {
  uint32_t struct_size;
  uint64_t events;
  const qsc_model_stats* const* models; /* model_count pointers, sorted by model name */
  size_t model_count;
  const qsc_ensemble_stats* ensemble; /* never NULL */
  /* ABI 2.1 and later append here. */
} qsc_window_stats;

/* How the telemetry has been flowing (the SDK's qsc::TelemetryHealth): missing telemetry never
 * reads as healthy. */
typedef struct qsc_telemetry_health {
  uint32_t struct_size;
  uint32_t source_ok;              /* 1: the source answered at the last read */
  qsc_str source_error;            /* why not, when source_ok is 0 */
  uint64_t events_seen;            /* accepted events since the period began */
  double seconds_since_last_event; /* agent's monotonic clock; +inf when unknown */
  uint64_t events_lost;            /* lost in the ring this period */
  uint64_t rejected;               /* unreadable entries this period */
  double rejected_pct;             /* over the newest rejected_window_entries entries */
  int64_t rejected_window_entries; /* -1 when not given */
  /* ABI 2.1 and later append here. */
} qsc_telemetry_health;

/* One model's prediction inside an event. */
typedef struct qsc_prediction {
  uint32_t struct_size;
  qsc_str model;              /* key in model_breakdown, e.g. "patchtst" */
  qsc_str model_string;       /* the "model" field (may be empty) */
  uint32_t action;            /* qsc_vote */
  uint32_t confidence_status; /* qsc_confidence_status */
  uint32_t inactive;          /* qsc_inactive_reason; QSC_ACTIVE when it votes */
  double confidence;          /* in [0, 1] after normalization; NaN for a violation */
  double raw_confidence;      /* as sent; NaN when not a number */
  /* ABI 2.1 and later append here. */
} qsc_prediction;

/* One trade.intent event (the SDK's qsc::TradeIntent). */
typedef struct qsc_event {
  uint32_t struct_size;
  uint64_t time_ms;                         /* the stream ID's milliseconds */
  uint64_t seq;                             /* the stream ID's sequence part */
  qsc_str symbol;                           /* may be empty */
  int32_t side;                             /* the ensemble's qsc_vote, or -1 when not sent */
  double confidence;                        /* the ensemble's confidence, NaN when not sent */
  const qsc_prediction* const* predictions; /* prediction_count pointers */
  size_t prediction_count;
  /* ABI 2.5 (read only under QSC_ABI_HAS(event, qsc_event, canary_predicted), and only when
   * votes_canary.length is not 0; an older host's event ends before them): the event's votes,
   * counted by the host once for every detector it is handed to, for the canary named
   * votes_canary (the same bytes as the input's canary_model). Without them (an older host, the
   * gate, the scoreboard, a detector asking for another model) walk the predictions: an active
   * prediction (inactive == QSC_ACTIVE) votes its action. */
  qsc_str votes_canary;
  uint32_t active_votes[QSC_VOTE_KINDS]; /* the active predictions of each qsc_vote */
  int32_t canary_vote;       /* the qsc_vote of the canary's first active prediction, or -1 */
  uint32_t canary_predicted; /* 1 when the event holds a prediction of the canary, active or not */
  /* ABI 2.6 and later append here. */
} qsc_event;

/* Everything a detector sees at one check (the SDK's qsc::CheckInput). */
typedef struct qsc_check_input {
  uint32_t struct_size;
  uint32_t abi_major; /* the host's ABI */
  uint32_t abi_minor;
  qsc_str canary_model;                  /* the model under watch (or judged) */
  const qsc_window_stats* window;        /* never NULL */
  const qsc_model_stats* canary;         /* NULL when the model has no prediction */
  const qsc_telemetry_health* telemetry; /* never NULL */
  uint64_t min_events;                   /* below this many predictions: insufficient */
  /* The events that arrived since this detector's previous check, oldest first (none when the
   * host has none to give): new_event_count pointers. A detector the host skipped within its
   * verdict horizon (qsc_check_sink::set_horizon) receives every event it missed. */
  const qsc_event* const* new_events;
  size_t new_event_count;
  /* ABI 2.2 (read only under QSC_ABI_HAS(input, qsc_check_input, canary_rank); a 2.0 or 2.1
   * host's input ends before it): the canary's usable confidences in the window, ranked, the
   * values canary->p10 and canary->p90 are read from. canary_rank(canary_ranks, k) returns the
   * k-th smallest (0-based, k < canary_rank_count) in O(log n), valid during the call only. With
   * them a detector can bound how far P10 and P90 can move in the next events (a verdict horizon
   * for a percentile range, docs/writing-a-detector.md). canary_rank is NULL when the host has
   * none to give (the gate, the scoreboard); use them only when canary_rank_count equals
   * canary->confidence_samples. */
  const void* canary_ranks;
  uint64_t canary_rank_count;
  double (*canary_rank)(const void* canary_ranks, uint64_t k);
  /* ABI 2.4 (read only under QSC_ABI_HAS(input, qsc_check_input, newest_event_ms), and only
   * when canary_watch_given is 1; an older host's input ends before them): the canary's
   * watch on event time, kept by the host for the period, so that it outlives a detector's
   * instance (a reload makes a new one, which would otherwise watch from its own first event).
   * Given by the monitor's and replay's evaluation once an event was accepted; not by the gate
   * or the scoreboard. */
  uint32_t canary_watch_given;
  /* The time_ms of the newest accepted event holding a prediction of the canary (active or
   * not), or of the period's first accepted event when none has since (the grace before a
   * canary's first prediction); never moved back by an entry stamped in the past. */
  uint64_t canary_last_prediction_ms;
  /* The largest time_ms of the accepted events so far (N of set_horizon_clock). The canary's
   * silence at the check is (newest_event_ms - canary_last_prediction_ms) / 1000.0 +
   * max(telemetry->seconds_since_last_event, 0). */
  uint64_t newest_event_ms;
  /* ABI 2.5 and later append here. */
} qsc_check_input;

/* ---- Results (plugin -> host, through the host's sinks) -------------------------------- */

enum qsc_verdict {
  QSC_VERDICT_PASS = 0,         /* within thresholds */
  QSC_VERDICT_VIOLATION = 1,    /* outside thresholds: act */
  QSC_VERDICT_INSUFFICIENT = 2, /* too little data: never healthy, not yet a violation */
  QSC_VERDICT_ERROR = 3         /* the check itself failed: counted as a violation */
};

/* Where a detector writes its result. A check that never calls set_verdict is an error (fail
 * closed). Bytes are copied during each call. */
typedef struct qsc_check_sink {
  uint32_t struct_size;
  void* host_data; /* pass back as the first argument */
  /* The verdict (qsc_verdict) and its one-line message, e.g. "Dead zone: HOLD=86.0% (>85%)". */
  void (*set_verdict)(void* host_data, uint32_t verdict, const char* message, size_t length);
  /* A measured figure reported with the verdict, e.g. ("hold_pct", 86.0). */
  void (*add_figure)(void* host_data, const char* name, size_t length, double value);
  /* ABI 2.1 (optional; call it only when QSC_ABI_HAS(out, qsc_check_sink, set_horizon) and it is
   * not NULL: a 2.0 host's sink ends before it). The verdict horizon: "the verdict I just set
   * stays what it is for at least the next `events` accepted events, whatever they are". It must
   * be a proven bound, valid for ANY next events (adversarial), with a margin for floating
   * point, and it may count only on accepted events: a verdict that can change without one (on
   * the clock, the telemetry's health, the rejected share) gives none, or one bounded by the
   * ABI 2.3 clock and conditions (set_horizon_clock, QSC_UNLESS_EVENTS_LOST and the others). The
   * host may then skip this detector's event-driven checks while the events since its last call are
   * within the horizon; every interval check, the period's end and any evaluation that acts still
   * call it, and its next call receives every event accepted since its previous call. Not calling
   * it, or 0, means "call me at every evaluation" (what every 2.0 plugin gets). The host honours it
   * for a pass or an insufficient verdict only, and caps it (docs/design.md, "Verdict
   * horizons"). */
  void (*set_horizon)(void* host_data, uint64_t events);
  /* ABI 2.2 (optional; call it only when QSC_ABI_HAS(out, qsc_check_sink, set_horizon_unless)
   * and it is not NULL, with set_horizon). Narrows the horizon just set to "... unless an
   * accepted event brings one of `conditions`" (QSC_UNLESS_* bits): for a verdict that one event
   * of a known kind changes at once (a confidence violation or an inactive prediction of the
   * canary) and that is otherwise bounded. The host watches every accepted event for them and
   * calls the detector at the first evaluation after one; it honours no horizon with a bit it
   * does not know. A plugin whose horizon needs a condition must not call set_horizon at all
   * when the sink has no set_horizon_unless: a 2.1 host would skip it without watching. */
  void (*set_horizon_unless)(void* host_data, uint64_t conditions);
  /* ABI 2.3 (optional; call it only when QSC_ABI_HAS(out, qsc_check_sink, set_horizon_clock)
   * and it is not NULL, with set_horizon). Narrows the horizon just set to a verdict that moves
   * with time (telemetry_stale's): "... while, at the evaluation, t = telemetry->
   * seconds_since_last_event (the caller's clock: monotonic live, event time in replay) is at
   * most max_silence_s, and (N - since_event_ms) / 1000.0 + max(t, 0) is at most max_since_s",
   * N the largest time_ms of the accepted events so far (a newer stamp moves it on). The host
   * reads both at every evaluation it would skip the detector in and calls it when either is
   * past; the bound holds for the clock's advance, not only for the events'. A plugin whose
   * horizon needs it must not call set_horizon at all when the sink has no set_horizon_clock. */
  void (*set_horizon_clock)(void* host_data, double max_silence_s, uint64_t since_event_ms,
                            double max_since_s);
} qsc_check_sink;

/* The conditions of a verdict horizon (qsc_check_sink::set_horizon_unless, ABI 2.2): an
 * accepted event holding a prediction of the canary (its model named input->canary_model) ... */
/* ... whose confidence is a violation (QSC_CONFIDENCE_NEGATIVE, _NAN, _INFINITE, _NOT_NUMBER) */
#define QSC_UNLESS_CANARY_CONFIDENCE_VIOLATION (UINT64_C(1) << 0)
/* ... that is shadow, inactive or fallback (inactive != QSC_ACTIVE) */
#define QSC_UNLESS_CANARY_INACTIVE (UINT64_C(1) << 1)
/* ABI 2.3: conditions on the telemetry's health (qsc_telemetry_health) rather than on an event,
 * judged by the host at each evaluation against what the detector was shown at its call: ... */
/* ... telemetry->events_lost grew */
#define QSC_UNLESS_EVENTS_LOST (UINT64_C(1) << 2)
/* ... telemetry->rejected grew (an unreadable entry arrived; without one, the rejected share
 * over the window's newest entries can only fall) */
#define QSC_UNLESS_REJECTED_ENTRY (UINT64_C(1) << 3)
/* ... telemetry->source_ok is false */
#define QSC_UNLESS_SOURCE_DOWN (UINT64_C(1) << 4)
/* Every condition this ABI version defines. */
#define QSC_UNLESS_KNOWN                                                                          \
  (QSC_UNLESS_CANARY_CONFIDENCE_VIOLATION | QSC_UNLESS_CANARY_INACTIVE | QSC_UNLESS_EVENTS_LOST | \
   QSC_UNLESS_REJECTED_ENTRY | QSC_UNLESS_SOURCE_DOWN)

/* Where a function writes a text (a refusal's reason, the effective configuration). */
typedef struct qsc_text_sink {
  uint32_t struct_size;
  void* host_data;
  void (*write)(void* host_data, const char* text, size_t length); /* appends */
} qsc_text_sink;

/* ---- Incidents (host -> action) -------------------------------------------------------- */

enum qsc_incident_kind {
  QSC_INCIDENT_ACTIVATE = 0, /* a canary was activated: install the drop-in, restart */
  QSC_INCIDENT_ROLLBACK = 1, /* a violation or a manual rollback: restore the baseline, page */
  QSC_INCIDENT_PROMOTE = 2,  /* the canary's weight was raised */
  QSC_INCIDENT_FINALIZE = 3, /* the canary became the live weights */
  QSC_INCIDENT_RESOLVED = 4  /* a monitoring period completed clean */
};

/* The outcome of one action (the SDK's qsc::ActionOutcome). */
typedef struct qsc_action_outcome {
  uint32_t struct_size;
  qsc_str action; /* the plugin's name */
  uint32_t ok;    /* 1 when it did its job */
  qsc_str detail; /* what was done, or why it failed */
  double duration_ms;
  /* ABI 2.1 and later append here. */
} qsc_action_outcome;

/* What an action receives (the SDK's qsc::Incident). */
typedef struct qsc_incident {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t kind;   /* qsc_incident_kind */
  qsc_str trigger; /* "qsc_monitor_violation", "manual", ... */
  qsc_str reason;
  qsc_str canary_model;
  double canary_weight;
  const qsc_str* violations; /* violation_count messages */
  size_t violation_count;
  qsc_str figures_json; /* the detectors' figures, a JSON object */
  qsc_str state_json;   /* the canary state, a JSON object */
  qsc_str hostname;
  qsc_str timestamp;                        /* ISO-8601 UTC with Z */
  const qsc_action_outcome* const* earlier; /* outcomes of the actions already run for it */
  size_t earlier_count;
  /* ABI 2.1 and later append here. */
} qsc_incident;

/* Where an action writes its outcome. An action that never calls set_outcome failed. */
typedef struct qsc_outcome_sink {
  uint32_t struct_size;
  void* host_data;
  void (*set_outcome)(void* host_data, uint32_t ok, const char* detail, size_t length);
} qsc_outcome_sink;

/* ---- The descriptor (exported as `qsc_plugin_descriptor`) ------------------------------ */

/* No typedef: the exported object has the struct's name, so C and C++ spell the type
 * `struct qsc_plugin_descriptor`, as they do `struct qsc_plugin_abi`. */
struct qsc_plugin_descriptor {
  uint32_t struct_size; /* sizeof(struct qsc_plugin_descriptor) as built */
  uint32_t abi_major;   /* as in qsc_plugin_abi */
  uint32_t abi_minor;
  uint32_t kind;           /* qsc_plugin_kind */
  const char* name;        /* NUL-terminated; 1 to 64 of a-z 0-9 _ -, unique in the directory */
  const char* version;     /* the plugin's own version, e.g. "1.0.0" */
  const char* description; /* one line */
  /* Creates an instance from its configuration section (plugins.config.<name>, a JSON object
   * text, "{}" when absent) and the host's whole configuration (a JSON text). On refusal returns
   * NULL and writes the reason to `error` (name the key and the allowed values). */
  void* (*create)(const char* section_json, size_t section_length, const char* host_json,
                  size_t host_length, const qsc_text_sink* error);
  /* Destroys an instance made by create. */
  void (*destroy)(void* instance);
  /* Detectors (else NULL): judges the input into `out`. */
  void (*check)(void* instance, const qsc_check_input* input, const qsc_check_sink* out);
  /* Actions (else NULL): acts on the incident into `out`. */
  void (*execute)(void* instance, const qsc_incident* incident, const qsc_outcome_sink* out);
  /* The effective configuration (thresholds, secrets redacted) as a JSON object text. */
  void (*effective_config)(void* instance, const qsc_text_sink* out);

  /* The fields below are optional in every 2.x version: a descriptor whose struct_size does
   * not cover one gets its default (given with each). */

  /* Detectors: qsc_detector_scope. Default QSC_SCOPE_EACH_MODEL. */
  uint32_t scope;
  /* QSC_FLAG_* bits. Default 0: essential, no role. */
  uint64_t flags;
  /* The configuration schema as a NUL-terminated JSON text: an object of key -> {"type":
   * "number" | "integer" | "duration" | "string" | "boolean" | "string_list" | "object" |
   * "object_list", "min", "max" (numbers; durations in seconds), "min_excluded" /
   * "max_excluded" (true when that end is not allowed), "why" (what that end would do, shown
   * in the refusal), "max_from" (a dotted key of the host's configuration holding the maximum),
   * "not_above" (another key this one must not exceed), "values" (a string key's only allowed
   * values), "default", "description"}. `qsc config`
   * checks plugins.config.<name> against it without creating the plugin. Default NULL: no schema,
   * the section is checked by create alone. */
  const char* config_schema;
  /* ABI 2.1 and later append here. */
};

/* The smallest descriptor a 2.x host accepts: everything up to effective_config. */
#define QSC_PLUGIN_DESCRIPTOR_MIN_SIZE offsetof(struct qsc_plugin_descriptor, scope)

#ifdef __cplusplus
}
#endif

#endif /* QSC_PLUGIN_ABI_H */
