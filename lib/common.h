/* SPDX-License-Identifier: MIT */
/*
 * Small macros shared by the vmtrace library and plugins.
 */
#ifndef VMTRACE_LIB_COMMON_H
#define VMTRACE_LIB_COMMON_H

/* Marks a method parameter that the Babeltrace signature imposes but we do not read. */
#define VMT_UNUSED __attribute__((unused))

/*
 * Marks a function shared between files of one plugin or of the library. The
 * plugins link the library statically; hidden symbols keep two plugins loaded
 * in one process from resolving each other's copies.
 */
#define VMT_HIDDEN __attribute__((visibility("hidden")))

#define VMT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* VMTRACE_LIB_COMMON_H */
