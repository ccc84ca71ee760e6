/* SPDX-License-Identifier: MIT */
/*
 * Logging and error causes for the vmtrace library and plugins.
 *
 * Mirrors Babeltrace's internal `BT_COMP_LOG*` macros, which are not
 * installed. Every `.c` defines `VMT_LOG_TAG` before including this header.
 * The level always comes from a `struct vmt_log_ctx`, filled once from
 * `bt_component_get_logging_level()` (or the query executor's level), so a
 * disabled level costs one comparison.
 */
#ifndef VMTRACE_LIB_LOG_H
#define VMTRACE_LIB_LOG_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <babeltrace2/babeltrace.h>

/*
 * Where log lines and error causes go. At most one of the three `self_*`
 * members is set; with none, causes are appended "from unknown" under the
 * log tag (unit tests, helpers without a component).
 */
struct vmt_log_ctx {
	bt_logging_level level;
	/* Component or class name shown in brackets; weak, may be NULL. */
	const char *name;
	/* Weak: owned by the graph. */
	bt_self_component *self_comp;
	/* Weak: owned by the query executor's caller (queries only). */
	bt_self_component_class *self_comp_class;
	/* Weak: owned by the graph. */
	bt_self_message_iterator *self_msg_iter;
};

/* Writes one line in Babeltrace's layout to stderr. */
void vmt_log_write(const struct vmt_log_ctx *ctx, bt_logging_level level, const char *tag,
		   const char *func, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Appends a cause to the current thread's error, from the context's actor. */
void vmt_log_append_cause(const struct vmt_log_ctx *ctx, const char *tag, const char *file,
			  int line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define VMT_LOG_ON(ctx, lvl) ((ctx)->level <= (lvl))
#define VMT_LOG_ON_TRACE(ctx) VMT_LOG_ON(ctx, BT_LOGGING_LEVEL_TRACE)
#define VMT_LOG_ON_DEBUG(ctx) VMT_LOG_ON(ctx, BT_LOGGING_LEVEL_DEBUG)

#define VMT_LOG(ctx, lvl, fmt, ...)                                                             \
	do {                                                                                    \
		if (VMT_LOG_ON(ctx, lvl)) {                                                     \
			vmt_log_write(ctx, lvl, VMT_LOG_TAG, __func__, __FILE__, __LINE__, fmt, \
				      ##__VA_ARGS__);                                           \
		}                                                                               \
	} while (0)

#define VMT_LOGT(ctx, fmt, ...) VMT_LOG(ctx, BT_LOGGING_LEVEL_TRACE, fmt, ##__VA_ARGS__)
#define VMT_LOGD(ctx, fmt, ...) VMT_LOG(ctx, BT_LOGGING_LEVEL_DEBUG, fmt, ##__VA_ARGS__)
#define VMT_LOGI(ctx, fmt, ...) VMT_LOG(ctx, BT_LOGGING_LEVEL_INFO, fmt, ##__VA_ARGS__)
#define VMT_LOGW(ctx, fmt, ...) VMT_LOG(ctx, BT_LOGGING_LEVEL_WARNING, fmt, ##__VA_ARGS__)
#define VMT_LOGE(ctx, fmt, ...) VMT_LOG(ctx, BT_LOGGING_LEVEL_ERROR, fmt, ##__VA_ARGS__)

/* Logs at ERROR and appends the same message as an error cause. */
#define VMT_LOGE_APPEND_CAUSE(ctx, fmt, ...)                                                    \
	do {                                                                                    \
		VMT_LOGE(ctx, fmt, ##__VA_ARGS__);                                              \
		vmt_log_append_cause(ctx, VMT_LOG_TAG, __FILE__, __LINE__, fmt, ##__VA_ARGS__); \
	} while (0)

/* Programmer invariants only; never for input data. Always on. */
#define VMT_ASSERT(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "vmtrace: assertion failed: %s (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                                      \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* Invariants on per-message paths: compiled in debug builds only. */
#ifdef VMT_DEBUG
#define VMT_ASSERT_DBG(cond) VMT_ASSERT(cond)
#else
#define VMT_ASSERT_DBG(cond) ((void) sizeof(cond))
#endif

/* A context for code without a component, e.g. unit tests. */
#define VMT_LOG_CTX_INIT_STANDALONE(lvl)                                                  \
	{                                                                                 \
		.level = (lvl), .name = NULL, .self_comp = NULL, .self_comp_class = NULL, \
		.self_msg_iter = NULL                                                     \
	}

#endif /* VMTRACE_LIB_LOG_H */
