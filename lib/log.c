/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/LOG"
#include "lib/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

static char level_letter(bt_logging_level level)
{
	switch (level) {
	case BT_LOGGING_LEVEL_TRACE:
		return 'T';
	case BT_LOGGING_LEVEL_DEBUG:
		return 'D';
	case BT_LOGGING_LEVEL_INFO:
		return 'I';
	case BT_LOGGING_LEVEL_WARNING:
		return 'W';
	case BT_LOGGING_LEVEL_ERROR:
		return 'E';
	case BT_LOGGING_LEVEL_FATAL:
		return 'F';
	default:
		return 'N';
	}
}

static const char *file_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

void vmt_log_write(const struct vmt_log_ctx *ctx, bt_logging_level level, const char *tag,
		   const char *func, const char *file, int line, const char *fmt, ...)
{
	struct timeval now;
	struct tm tm;
	va_list args;
	char *msg;

	gettimeofday(&now, NULL);
	localtime_r(&now.tv_sec, &tm);
	va_start(args, fmt);
	msg = g_strdup_vprintf(fmt, args);
	va_end(args);
	/* One fprintf call keeps lines whole when several components log. */
	fprintf(stderr, "%02d-%02d %02d:%02d:%02d.%03d %5d %5d %c %s %s@%s:%d %s%s%s%s\n",
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		(int) (now.tv_usec / 1000), (int) getpid(), (int) gettid(), level_letter(level),
		tag, func, file_basename(file), line, ctx->name ? "[" : "",
		ctx->name ? ctx->name : "", ctx->name ? "] " : "", msg);
	g_free(msg);
}

void vmt_log_append_cause(const struct vmt_log_ctx *ctx, const char *tag, const char *file,
			  int line, const char *fmt, ...)
{
	va_list args;
	char *msg;

	va_start(args, fmt);
	msg = g_strdup_vprintf(fmt, args);
	va_end(args);
	if (ctx->self_msg_iter) {
		bt_current_thread_error_append_cause_from_message_iterator(ctx->self_msg_iter, file,
									   line, "%s", msg);
	} else if (ctx->self_comp) {
		bt_current_thread_error_append_cause_from_component(ctx->self_comp, file, line,
								    "%s", msg);
	} else if (ctx->self_comp_class) {
		bt_current_thread_error_append_cause_from_component_class(ctx->self_comp_class,
									  file, line, "%s", msg);
	} else {
		bt_current_thread_error_append_cause_from_unknown(tag, file, line, "%s", msg);
	}
	g_free(msg);
}
