/* config_int.h - helpers shared by config.c (loading) and config_print.c (output). Internal to
 * the config module. */
#ifndef VANE_CONFIG_INT_H
#define VANE_CONFIG_INT_H

#include <stddef.h>

/* "a, b, c" from a NULL-terminated choice list (truncated to n). */
void vane__config_choices_text(const char *const *choices, char *buf, size_t n);
/* The environment variable of a dotted key: "kafka.batch_size" -> "VANE_KAFKA_BATCH_SIZE". */
void vane__config_env_name(const char *key, char *buf, size_t n);

#endif
