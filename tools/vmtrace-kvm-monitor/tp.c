/* SPDX-License-Identifier: MIT */
/*
 * Instantiates the `vmtrace_kvm` probes inside the monitor itself: a
 * statically linked provider needs no LD_PRELOAD and cannot be missing.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE

#include "tools/vmtrace-kvm-monitor/tp.h"
