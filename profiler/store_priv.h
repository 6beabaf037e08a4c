/*
 * store_priv.h - the private side of struct sp_store, shared by store.c
 * and store_import.c (resolved stacks from dumps, owned strings).
 * Nothing outside those two files includes it.
 */
#ifndef SP_STORE_PRIV_H
#define SP_STORE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Open-addressing map from (key, kind) to a frame index and a line. */
struct addr_slot {
	uint64_t key;
	uint32_t val;   /* frame index + 1; 0 = empty slot */
	int32_t line;
	uint32_t kind;
};

struct addr_map {
	struct addr_slot *slots;
	size_t n_slots;  /* power of two, or 0 */
	size_t n_used;
};

/* Kinds of addr_map keys. */
enum {
	PC_LEAF = 0,    /* pc_map: the leaf pc, looked up as is */
	PC_CALLER = 1,  /* pc_map: a return address, looked up as pc - 1 */
	FN_START = 0,   /* fn_map: runtime start address of a function */
	FN_PC = 1,      /* fn_map: a pc no symbol covers */
};

struct store_priv {
	struct sp_store pub;      /* first: the public view */
	size_t n_resolved;        /* stacks [0, n_resolved) have frames */
	struct addr_map pc_map;
	struct addr_map fn_map;
	uint32_t *tid_slots;      /* thread index + 1; 0 = empty */
	size_t n_tid_slots;       /* power of two, or 0 */
	uint32_t other_thread;    /* "(other threads)" index + 1; 0 = none */
	char **strs;              /* sp_store_strdup copies, freed with us */
	size_t n_strs, cap_strs;
};

static inline struct store_priv *priv(struct sp_store *st)
{
	return (struct store_priv *)st;
}

static inline uint64_t mix64(uint64_t x)
{
	/* splitmix64's finalizer: spreads nearby addresses over all bits. */
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* Double the intern hash table (store.c).  Returns 0 or -ENOMEM. */
int sp_store_buckets_grow(struct sp_store *st);

#endif
