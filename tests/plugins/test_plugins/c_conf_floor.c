/* A detector written in plain C against qsc/plugin_abi.h alone: no C++ runtime, no SDK library.
 * Fires when the canary's mean confidence is below "min_conf_mean" (default 0.3). It shows the
 * whole contract: the ABI block and the descriptor, a configuration section read from its JSON
 * text (refused with the key named), a schema, results through the host's sink (the message is
 * a stack buffer: the host copies it during the call), the insufficient verdict, figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qsc/plugin_abi.h"

typedef struct conf_floor {
  double min_conf_mean;
} conf_floor;

static void write_text(const qsc_text_sink* sink, const char* text) {
  sink->write(sink->host_data, text, strlen(text));
}

/* The value of "min_conf_mean" in a flat JSON object: a plugin without a JSON library reads
 * its one key; `qsc config` has already checked the section against the schema below. */
static int read_min_conf_mean(const char* json, size_t length, double* out,
                              const qsc_text_sink* error) {
  static const char key[] = "\"min_conf_mean\"";
  char* text = (char*)malloc(length + 1);
  const char* at;
  if (text == NULL) {
    write_text(error, "out of memory");
    return 0;
  }
  memcpy(text, json, length);
  text[length] = '\0';
  at = strstr(text, key);
  if (at != NULL) {
    char* end = NULL;
    at += sizeof key - 1;
    while (*at == ' ' || *at == ':') ++at;
    *out = strtod(at, &end);
    if (end == at || !(*out >= 0.0 && *out <= 1.0)) {
      write_text(error, "plugins.config.c_conf_floor.min_conf_mean: must be a number from 0 to 1");
      free(text);
      return 0;
    }
  }
  free(text);
  return 1;
}

static void* create(const char* section_json, size_t section_length, const char* host_json,
                    size_t host_length, const qsc_text_sink* error) {
  conf_floor* self;
  double min_conf_mean = 0.3;
  (void)host_json;
  (void)host_length;
  if (!read_min_conf_mean(section_json, section_length, &min_conf_mean, error)) return NULL;
  self = (conf_floor*)malloc(sizeof *self);
  if (self == NULL) {
    write_text(error, "out of memory");
    return NULL;
  }
  self->min_conf_mean = min_conf_mean;
  return self;
}

static void destroy(void* instance) {
  free(instance);
}

static void check(void* instance, const qsc_check_input* input, const qsc_check_sink* out) {
  const conf_floor* self = (const conf_floor*)instance;
  const qsc_model_stats* canary = input->canary;
  char message[160];
  const unsigned long long n = canary != NULL ? (unsigned long long)canary->predictions : 0ULL;
  if (canary == NULL || n < input->min_events || canary->confidence_samples == 0 ||
      isnan(canary->conf_mean)) {
    snprintf(message, sizeof message, "C conf floor: %llu predictions (%llu needed)", n,
             (unsigned long long)input->min_events);
    out->set_verdict(out->host_data, QSC_VERDICT_INSUFFICIENT, message, strlen(message));
    out->add_figure(out->host_data, "predictions", strlen("predictions"), (double)n);
    return;
  }
  snprintf(message, sizeof message, "C conf floor: conf_mean=%.4f (<%g)", canary->conf_mean,
           self->min_conf_mean);
  out->set_verdict(
      out->host_data,
      canary->conf_mean < self->min_conf_mean ? QSC_VERDICT_VIOLATION : QSC_VERDICT_PASS, message,
      strlen(message));
  out->add_figure(out->host_data, "conf_mean", strlen("conf_mean"), canary->conf_mean);
  out->add_figure(out->host_data, "new_events", strlen("new_events"),
                  (double)input->new_event_count);
}

static void effective_config(void* instance, const qsc_text_sink* out) {
  char text[64];
  snprintf(text, sizeof text, "{\"min_conf_mean\":%g}",
           ((const conf_floor*)instance)->min_conf_mean);
  write_text(out, text);
}

QSC_PLUGIN_EXPORT const struct qsc_plugin_abi qsc_plugin_abi = {
    QSC_PLUGIN_ABI_MAJOR, QSC_PLUGIN_ABI_MINOR, sizeof(struct qsc_plugin_descriptor)};

QSC_PLUGIN_EXPORT const struct qsc_plugin_descriptor qsc_plugin_descriptor = {
    sizeof(struct qsc_plugin_descriptor),
    QSC_PLUGIN_ABI_MAJOR,
    QSC_PLUGIN_ABI_MINOR,
    QSC_KIND_DETECTOR,
    "c_conf_floor",
    "1.0.0",
    "Fires when the canary's mean confidence is below min_conf_mean (a plugin in C)",
    create,
    destroy,
    check,
    NULL,
    effective_config,
    QSC_SCOPE_EACH_MODEL,
    QSC_FLAG_ESSENTIAL,
    "{\"min_conf_mean\": {\"type\": \"number\", \"min\": 0, \"max\": 1, \"default\": 0.3,"
    " \"description\": \"the lowest healthy mean confidence\"}}"};
