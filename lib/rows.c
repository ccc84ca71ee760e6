/* SPDX-License-Identifier: MIT */
/*
 * Names of the vCPU states and pCPU levels, as the outputs spell them.
 */
#include "lib/rows.h"

#include <stddef.h>

#include "lib/common.h"

/* Indexed by `enum vmt_vcpu_state`: the SPEC §4 names. */
static const char *const vcpu_state_names[VMT_VCPU_STATE_COUNT] = {
	[VMT_VCPU_STATE_RUNNING] = "running",	  [VMT_VCPU_STATE_HYPERVISOR] = "hypervisor",
	[VMT_VCPU_STATE_PREEMPTED] = "preempted", [VMT_VCPU_STATE_IDLE] = "idle",
	[VMT_VCPU_STATE_BLOCKED] = "blocked",
};

/* Indexed by `enum vmt_pcpu_level`: the semantics §6 names. */
static const char *const pcpu_level_names[] = {
	[VMT_PCPU_LEVEL_HOST] = "host",
	[VMT_PCPU_LEVEL_HYPERVISOR] = "hypervisor",
	[VMT_PCPU_LEVEL_GUEST] = "guest",
};

/* Returns NULL for a value outside the enum, which the writers print as empty. */
const char *vmt_vcpu_state_name(enum vmt_vcpu_state state)
{
	if ((unsigned int) state >= VMT_ARRAY_SIZE(vcpu_state_names)) {
		return NULL;
	}
	return vcpu_state_names[state];
}

/* Returns NULL for a value outside the enum. */
const char *vmt_pcpu_level_name(enum vmt_pcpu_level level)
{
	if ((unsigned int) level >= VMT_ARRAY_SIZE(pcpu_level_names)) {
		return NULL;
	}
	return pcpu_level_names[level];
}
