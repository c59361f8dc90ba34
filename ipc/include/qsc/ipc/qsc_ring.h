/* The ring's C ABI (libqsc_ring.so): lets an engine written in any language publish trade
 * intents into the shared-memory ring. Every function is safe to call from several threads
 * with distinct producers; a producer itself belongs to one thread at a time. Nothing here
 * throws or aborts: failures return a negative code and qsc_ring_last_error() says why. */
#ifndef QSC_IPC_QSC_RING_H
#define QSC_IPC_QSC_RING_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define QSC_RING_API __attribute__((visibility("default")))
#else
#define QSC_RING_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Return codes. */
#define QSC_RING_OK 0
#define QSC_RING_EINVAL (-1)   /**< a null or invalid argument */
#define QSC_RING_EREFUSED (-2) /**< the event is unreadable or does not fit the layout */
#define QSC_RING_EOVERRUN (-3) /**< dropped: a whole lap overtook this claim */
#define QSC_RING_EOPEN (-4)    /**< the ring could not be created or attached */

/** An open producer (opaque). */
typedef struct qsc_ring_producer qsc_ring_producer;

/** The record layout version this library reads and writes. */
QSC_RING_API uint32_t qsc_ring_layout_version(void);

/** The default capacity (records) used when 0 is passed to qsc_ring_producer_open. */
QSC_RING_API uint64_t qsc_ring_default_capacity(void);

/** Attaches to (or creates, mode 0660) the ring `name` holding `capacity_records` records
 *  (a power of two; 0 for the default). NULL on failure, with qsc_ring_last_error() set. */
QSC_RING_API qsc_ring_producer* qsc_ring_producer_open(const char* name, uint64_t capacity_records);

/** Publishes one trade intent given as docs/design.md's payload JSON (`symbol`, `side`,
 *  `confidence`, `model_breakdown`; Python's NaN/Infinity tokens accepted). `time_ms` is the
 *  event time (0: now, wall clock) and `seq` its sequence within that millisecond.
 *  Returns QSC_RING_OK or a negative code. A payload the parser rejects, or an event the
 *  layout cannot hold, returns QSC_RING_EREFUSED and is published as a rejected entry (its ID
 *  and reason), so consumers count it instead of never seeing it. */
QSC_RING_API int qsc_ring_publish_json(qsc_ring_producer* producer, const char* payload_json,
                                       size_t payload_len, uint64_t time_ms, uint64_t seq);

/** Detaches and frees the producer (the segment stays for consumers). NULL is ignored. */
QSC_RING_API void qsc_ring_producer_close(qsc_ring_producer* producer);

/** Removes the ring's shared-memory object. Returns QSC_RING_OK (also when it did not exist). */
QSC_RING_API int qsc_ring_remove(const char* name);

/** The message of this thread's last failure ("" if none); valid until the next call. */
QSC_RING_API const char* qsc_ring_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* QSC_IPC_QSC_RING_H */
