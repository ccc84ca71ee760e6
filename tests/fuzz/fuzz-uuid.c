/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (issue 7): the two parsers of strings that come straight
 * from traces, `vmt_uuid_normalize` (`kvm_guest.guest_uuid`, `product_uuid`,
 * `guest-uuids` values) and `vmt_vcpu_index_from_comm` (thread names).
 * The input is copied into an exact-size NUL-terminated buffer, so that
 * AddressSanitizer sees any read past the string. Checked: a normalized
 * UUID is canonical lowercase 8-4-4-4-12 and normalizes to itself; a vCPU
 * index comes only from `CPU <digits>/KVM` and prints back to those digits.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/host-model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uuid(const char *in)
{
	char out[VMT_UUID_SIZE], again[VMT_UUID_SIZE];
	int i;

	memset(out, 'x', sizeof(out));
	if (!vmt_uuid_normalize(in, out)) {
		return;
	}
	for (i = 0; i < VMT_UUID_SIZE - 1; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (out[i] != '-') {
				abort();
			}
		} else if (!isxdigit((unsigned char) out[i]) || isupper((unsigned char) out[i])) {
			abort();
		}
	}
	if (out[VMT_UUID_SIZE - 1] != '\0') {
		abort();
	}
	if (!vmt_uuid_normalize(out, again) || strcmp(out, again) != 0) {
		abort();
	}
}

static void check_comm(const char *in)
{
	int64_t index = vmt_vcpu_index_from_comm(in);
	const char *digits = in + 4;
	char printed[32];

	if (index < 0) {
		if (index != -1) {
			abort();
		}
		return;
	}
	if (strncmp(in, "CPU ", 4) != 0 || strlen(in) < 9 ||
	    strcmp(in + strlen(in) - 4, "/KVM") != 0) {
		abort();
	}
	while (*digits == '0' && isdigit((unsigned char) digits[1])) {
		digits++;
	}
	snprintf(printed, sizeof(printed), "%" PRId64 "/KVM", index);
	if (strcmp(printed, digits) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);

	memcpy(in, data, size);
	in[size] = '\0';
	check_uuid(in);
	check_comm(in);
	free(in);
	return 0;
}
