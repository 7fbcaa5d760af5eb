/*
 * rota_cron_core.h — the PostgreSQL-free core of rota.cron_next_c: parsing a cron
 * expression and computing its next fire instant, given a function that tells the zone's
 * UTC offset at an instant.
 *
 * It uses only the C library (no palloc, no ereport, no zone library), so the extension
 * (rota_cron.c, which raises its errors and supplies PostgreSQL's zone code) and the
 * libFuzzer harness (fuzz/cron_fuzz.c) compile the same code.
 */
#ifndef ROTA_CRON_CORE_H
#define ROTA_CRON_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest cron expression accepted, in bytes (the PL/pgSQL side has the same limit). */
#define CRON_MAX_LENGTH		256
/* Room for the longest error detail cron_parse writes (it quotes at most one field). */
#define CRON_DETAIL_SIZE	(CRON_MAX_LENGTH + 128)

/* The parsed form of a cron expression: one bitmap per field, and the Vixie flags. */
typedef struct CronSpec
{
	uint64_t	secs;
	uint64_t	mins;
	uint64_t	hours;
	uint64_t	doms;
	uint64_t	months;
	uint64_t	dows;
	bool		dom_star;
	bool		dow_star;
} CronSpec;

/* How cron_parse ended. */
typedef enum CronParseStatus
{
	CRON_PARSE_OK,
	CRON_PARSE_INVALID,			/* syntax or range error: the detail says which */
	CRON_PARSE_TOO_LONG			/* longer than CRON_MAX_LENGTH bytes */
} CronParseStatus;

/* How cron_next ended. */
typedef enum CronNextStatus
{
	CRON_NEXT_FOUND,
	CRON_NEXT_NONE,				/* out of range: no fire in the horizon, or `after` too far out */
	CRON_NEXT_ZONE_ERROR		/* the offset function failed */
} CronNextStatus;

/*
 * The zone: stores the UTC offset (seconds east) at Unix second t into *offset; returns
 * false when the zone cannot tell (time out of its range).
 */
typedef bool (*CronOffsetFn) (void *zone, int64_t t, int32_t *offset);

/*
 * Parses the NUL-terminated expression `cron` into *spec. On failure writes the reason
 * (the text after "invalid cron expression "...": ") into detail[CRON_DETAIL_SIZE].
 */
extern CronParseStatus cron_parse(const char *cron, CronSpec *spec, char *detail);

/*
 * The smallest fire instant of `spec` strictly after `after` in the zone, both in
 * microseconds since 2000-01-01 00:00 UTC (PostgreSQL's timestamptz; INT64_MIN and
 * INT64_MAX, the infinities, give CRON_NEXT_NONE).
 */
extern CronNextStatus cron_next(const CronSpec *spec, int64_t after, CronOffsetFn offset_fn,
								void *zone, int64_t *result);

#endif							/* ROTA_CRON_CORE_H */
