/* SPDX-License-Identifier: MIT */
/*
 * Status codes of the vmtrace library. The values are Babeltrace's own
 * (`func-status.h`), so a library status converts to any Babeltrace method
 * status whose set contains it.
 */
#ifndef VMTRACE_LIB_STATUS_H
#define VMTRACE_LIB_STATUS_H

enum vmt_status {
	VMT_STATUS_OK = 0,
	VMT_STATUS_END = 1,
	VMT_STATUS_AGAIN = 11,
	VMT_STATUS_ERROR = -1,
	VMT_STATUS_MEMORY_ERROR = -12,
};

#endif /* VMTRACE_LIB_STATUS_H */
