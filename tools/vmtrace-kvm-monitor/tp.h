/* SPDX-License-Identifier: MIT */
/*
 * The LTTng-UST tracepoint provider `vmtrace_kvm`: the three events of SPEC
 * section 3 that name the QEMU process of each VM.
 *
 * Field types follow the lttng-tools fork that first emitted these events
 * (docs/lttng-kvm-events.md of the shared folder, section 7): `kvm_guest`
 * has a signed 64-bit `pid`, `kvm_created` and `kvm_destroyed` an unsigned
 * 32-bit one, so that readers written for the fork read ours too.
 *
 * This header is read several times by the lttng-ust macros (hence the
 * guard that `LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ` reopens).
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER vmtrace_kvm

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "tools/vmtrace-kvm-monitor/tp.h"

#if !defined(VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_TP_H) || \
	defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

/* A VM that exists now, re-emitted at start, on SIGUSR1 and every interval. */
LTTNG_UST_TRACEPOINT_EVENT(vmtrace_kvm, kvm_guest,
			   LTTNG_UST_TP_ARGS(int64_t, pid, const char *, guest_uuid),
			   LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(int64_t, pid, pid)
						       lttng_ust_field_string(guest_uuid,
									      guest_uuid)))

/* A VM that appeared while the monitor ran. */
LTTNG_UST_TRACEPOINT_EVENT(vmtrace_kvm, kvm_created,
			   LTTNG_UST_TP_ARGS(uint32_t, pid, const char *, uuid),
			   LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(uint32_t, pid, pid)
						       lttng_ust_field_string(uuid, uuid)))

/* The last VM of process `pid` is gone. */
LTTNG_UST_TRACEPOINT_EVENT(vmtrace_kvm, kvm_destroyed, LTTNG_UST_TP_ARGS(uint32_t, pid),
			   LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(uint32_t, pid, pid)))

#endif /* VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_TP_H */

#include <lttng/tracepoint-event.h>
