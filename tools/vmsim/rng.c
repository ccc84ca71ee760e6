/* SPDX-License-Identifier: MIT */
/*
 * Deterministic pseudo-random numbers: xoshiro256** seeded through
 * splitmix64, so that a seed gives the same traces on every machine (no
 * rand(), no libm differences in what decides control flow except through
 * `log()`, which glibc computes exactly rounded on x86-64).
 */
#include <math.h>

#include "vmsim.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void vmsim_rng_seed(uint64_t state[4], uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++) {
		state[i] = splitmix64(&x);
	}
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t vmsim_rng_u64(struct vmsim *sim)
{
	uint64_t *s = sim->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Unbiased integer in [0, n) (Lemire's method); 0 when `n` is 0. */
uint64_t vmsim_rng_below(struct vmsim *sim, uint64_t n)
{
	unsigned __int128 m;
	uint64_t low;

	if (n == 0) {
		return 0;
	}
	m = (unsigned __int128) vmsim_rng_u64(sim) * n;
	low = (uint64_t) m;
	if (low < n) {
		uint64_t threshold = -n % n;

		while (low < threshold) {
			m = (unsigned __int128) vmsim_rng_u64(sim) * n;
			low = (uint64_t) m;
		}
	}
	return (uint64_t) (m >> 64);
}

/* Integer in [lo, hi] (inclusive); `lo` when hi < lo. */
int64_t vmsim_rng_range(struct vmsim *sim, int64_t lo, int64_t hi)
{
	if (hi <= lo) {
		return lo;
	}
	return lo + (int64_t) vmsim_rng_below(sim, (uint64_t) (hi - lo) + 1);
}

double vmsim_rng_double(struct vmsim *sim)
{
	return (double) (vmsim_rng_u64(sim) >> 11) * 0x1.0p-53;
}

bool vmsim_rng_chance(struct vmsim *sim, double p)
{
	return vmsim_rng_double(sim) < p;
}

/* Exponential duration of mean `mean_ns`, at least 1 ns, capped at 20 means. */
int64_t vmsim_rng_exp_ns(struct vmsim *sim, double mean_ns)
{
	double u = vmsim_rng_double(sim);
	double x = -log1p(-u) * mean_ns;

	if (x > 20.0 * mean_ns) {
		x = 20.0 * mean_ns;
	}
	if (x < 1.0) {
		x = 1.0;
	}
	return (int64_t) x;
}

/* A random (version 4) UUID, lowercase canonical form. */
void vmsim_rng_uuid(struct vmsim *sim, char out[VMSIM_UUID_LEN])
{
	uint8_t b[16];

	for (int i = 0; i < 16; i += 8) {
		uint64_t r = vmsim_rng_u64(sim);

		for (int j = 0; j < 8; j++) {
			b[i + j] = (uint8_t) (r >> (8 * j));
		}
	}
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
	g_snprintf(out, VMSIM_UUID_LEN,
		   "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		   b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		   b[14], b[15]);
}
