/*
 * cron_fuzz.c — libFuzzer harness for the cron parser and next-fire arithmetic of
 * rota_cron (pgext/rota_cron_core.c, the PostgreSQL-free core the extension also runs).
 *
 * Input: a 16-byte header, then the cron expression (up to the first NUL, as a text
 * value cannot hold one):
 *   byte 0       zone model: 0 UTC, 1 a fixed offset, 2-3 a zone with daylight saving time
 *                (periodic transitions, at least 3 days apart, as the core requires);
 *                bit 4: take `after` raw (all of int64, the infinities and the range ends)
 *   bytes 1-8    `after` (little endian; unless raw, folded into 1800-2200)
 *   bytes 9-15   the zone's parameters (offset, shift, period, phase, length)
 * Real zones need PostgreSQL's zone library (pg_tzset, pg_localtime), which lives in the
 * server, so the harness fuzzes the arithmetic against synthetic zones; the differential
 * test (tests/differential) covers the real ones.
 *
 * Checked on every input (abort = a finding):
 *   parser   a status and, on failure, a non-empty detail that fits its buffer; "too long"
 *            exactly above CRON_MAX_LENGTH; bitmaps non-empty and inside their fields;
 *            the same answer for the expression upper-cased and padded with whitespace;
 *   next     an answer in whole seconds strictly after `after`; the same answer from any
 *            instant between `after` and it (fires do not depend on where one starts);
 *            the next fire after it is later; and exactly the contract's answer, computed
 *            independently: the first selected wall second the clock has not shown yet
 *            (found by a day-by-day search deciding dates with the C library's gmtime_r)
 *            fires at the first second the clock's high-water mark reaches it (DST gaps
 *            fire at their end, repeated wall times once).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rota_cron_core.h"

#define USECS			INT64_C(1000000)
#define PG_EPOCH_SECS	INT64_C(946684800)
#define DAY				INT64_C(86400)
#define YEAR_USECS		(INT64_C(31556952) * USECS)
/* 294276-01-01 00:00 UTC: from here on cron_next answers NULL (the contract's range). */
#define END_OF_RANGE	(INT64_C(9223339708800) * USECS)

/* A synthetic zone: base offset, and `shift` more during [phase, phase + length) of each period. */
typedef struct FuzzZone
{
	int32_t		base;
	int32_t		shift;
	int64_t		period;
	int64_t		phase;
	int64_t		length;
} FuzzZone;

/* Fails the run with a message (libFuzzer saves the input). */
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "cron_fuzz: " __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

static int64_t
mod(int64_t a, int64_t b)
{
	int64_t		r = a % b;

	return r < 0 ? r + b : r;
}

/* The CronOffsetFn of a FuzzZone. */
static bool
fuzz_offset(void *arg, int64_t t, int32_t *offset)
{
	const FuzzZone *z = arg;

	*offset = z->base;
	if (z->shift != 0 && mod(t - z->phase, z->period) < z->length)
		*offset += z->shift;
	return true;
}

/* Does the day that starts at wall-clock second `day` (seconds since 1970) match the spec? */
static bool
day_matches(const CronSpec *s, int64_t day)
{
	time_t		tt = (time_t) day;
	struct tm	tm;
	bool		dom,
				dow;

	if (gmtime_r(&tt, &tm) == NULL || !((s->months >> (tm.tm_mon + 1)) & 1))
		return false;
	dom = (s->doms >> tm.tm_mday) & 1;
	dow = (s->dows >> tm.tm_wday) & 1;
	return (s->dom_star || s->dow_star) ? (dom && dow) : (dom || dow);
}

/*
 * The first selected wall second >= w, by walking whole days (gmtime_r decides the date)
 * and, in a matching day, the set bits of hour, minute and second; false beyond `limit`.
 */
static bool
first_selected(const CronSpec *s, int64_t w, int64_t limit, int64_t *result)
{
	for (int64_t day = w - mod(w, DAY); day <= limit; day += DAY)
	{
		if (!day_matches(s, day))
			continue;
		for (int h = 0; h < 24; h++)
			for (int m = 0; m < 60 && (s->hours >> h) & 1; m++)
				for (int sec = 0; sec < 60 && (s->mins >> m) & 1; sec++)
					if ((s->secs >> sec) & 1 && day + h * 3600 + m * 60 + sec >= w)
					{
						*result = day + h * 3600 + m * 60 + sec;
						return true;
					}
	}
	return false;
}

static uint64_t
read_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Are two parsed expressions the same (field by field: the struct has padding)? */
static bool
spec_equal(const CronSpec *a, const CronSpec *b)
{
	return a->secs == b->secs && a->mins == b->mins && a->hours == b->hours && a->doms == b->doms &&
		a->months == b->months && a->dows == b->dows && a->dom_star == b->dom_star && a->dow_star == b->dow_star;
}

/* The parser's checks; returns whether the expression is valid (and its spec). */
static bool
check_parse(const char *expr, CronSpec *spec)
{
	char		detail[CRON_DETAIL_SIZE];
	size_t		len = strlen(expr);
	CronParseStatus st;

	memset(detail, 0x55, sizeof(detail));
	st = cron_parse(expr, spec, detail);
	CHECK(st == CRON_PARSE_OK || st == CRON_PARSE_INVALID || st == CRON_PARSE_TOO_LONG, "bad status %d", st);
	CHECK((st == CRON_PARSE_TOO_LONG) == (len > CRON_MAX_LENGTH), "too-long status for %zu bytes", len);
	if (st != CRON_PARSE_OK)
	{
		CHECK(memchr(detail, '\0', sizeof(detail)) != NULL && detail[0] != '\0', "error detail missing or unterminated");
		return false;
	}
	CHECK(spec->secs && !(spec->secs >> 60), "seconds %llx", (unsigned long long) spec->secs);
	CHECK(spec->mins && !(spec->mins >> 60), "minutes %llx", (unsigned long long) spec->mins);
	CHECK(spec->hours && !(spec->hours >> 24), "hours %llx", (unsigned long long) spec->hours);
	CHECK(spec->doms && !(spec->doms & 1) && !(spec->doms >> 32), "days %llx", (unsigned long long) spec->doms);
	CHECK(spec->months && !(spec->months & 1) && !(spec->months >> 13), "months %llx", (unsigned long long) spec->months);
	CHECK(spec->dows && !(spec->dows >> 7), "weekdays %llx", (unsigned long long) spec->dows);

	/* names and macros are case-insensitive, surrounding whitespace is ignored */
	if (len + 2 <= CRON_MAX_LENGTH)
	{
		char		variant[CRON_MAX_LENGTH + 1];
		CronSpec	again;

		variant[0] = '\t';
		for (size_t i = 0; i < len; i++)
			variant[i + 1] = (char) toupper((unsigned char) expr[i]);
		variant[len + 1] = ' ';
		variant[len + 2] = '\0';
		CHECK(cron_parse(variant, &again, detail) == CRON_PARSE_OK &&
			  spec_equal(&again, spec), "upper-cased, padded variant parses differently");
	}
	return true;
}

/*
 * The high-water mark of the zone's wall clock at Unix second x: the latest wall time it
 * has shown by then. It exceeds the wall clock at x only in the hours after a transition
 * that turns the clock back; only the last such transition matters (they are days apart).
 */
static int64_t
high_water(FuzzZone *zone, int64_t x)
{
	int32_t		o;
	int64_t		h;

	fuzz_offset(zone, x, &o);
	h = x + o;
	if (zone->shift != 0)
	{
		int64_t		back = zone->shift > 0 ? zone->phase + zone->length : zone->phase;
		int64_t		last = x - mod(x - back, zone->period);

		fuzz_offset(zone, last - 1, &o);
		if (last - 1 + o > h)
			h = last - 1 + o;
	}
	return h;
}

/* The next-fire checks for one spec, instant and zone. */
static void
check_next(const CronSpec *spec, int64_t after, FuzzZone *zone, uint64_t pick)
{
	int64_t		next,
				again,
				later,
				t,
				a,
				m = INT64_MIN;
	CronNextStatus st = cron_next(spec, after, fuzz_offset, zone, &next);

	CHECK(st == CRON_NEXT_FOUND || st == CRON_NEXT_NONE, "status %d", st);
	if (st == CRON_NEXT_NONE)
		return;
	CHECK(next > after, "next %lld not after %lld", (long long) next, (long long) after);
	CHECK(next % USECS == 0, "next %lld not a whole second", (long long) next);

	/*
	 * from any instant in [after, next) the answer is next (a fire in a zone west of UTC
	 * may lie past the end of the range, where cron_next answers NULL)
	 */
	t = after + (int64_t) (pick % (uint64_t) (next - after));
	if (t < END_OF_RANGE)
		CHECK(cron_next(spec, t, fuzz_offset, zone, &again) == CRON_NEXT_FOUND && again == next,
			  "from %lld: %lld, from %lld: %lld", (long long) after, (long long) next, (long long) t, (long long) again);
	if (next - 1 < END_OF_RANGE)
		CHECK(cron_next(spec, next - 1, fuzz_offset, zone, &again) == CRON_NEXT_FOUND && again == next,
			  "from next-1us: %lld, not %lld", (long long) again, (long long) next);
	if (cron_next(spec, next, fuzz_offset, zone, &later) == CRON_NEXT_FOUND)
		CHECK(later > next, "fire after %lld is %lld", (long long) next, (long long) later);

	/*
	 * The contract, independently: the first selected wall second m the clock has not yet
	 * shown at `after` (m > high_water(a)) fires at the first second T whose high-water
	 * mark reaches it: high_water(T - 1) < m <= high_water(T).
	 */
	a = (after >= 0 ? after / USECS : -((-after + USECS - 1) / USECS)) + PG_EPOCH_SECS;
	t = next / USECS + PG_EPOCH_SECS;
	CHECK(first_selected(spec, high_water(zone, a) + 1, high_water(zone, t), &m) &&
		  high_water(zone, t - 1) < m && m <= high_water(zone, t),
		  "after %lld: next %lld (wall %lld, before it %lld), but the first selected wall second is %lld",
		  (long long) after, (long long) next, (long long) high_water(zone, t), (long long) high_water(zone, t - 1),
		  (long long) m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		head[16] = {0};
	char		expr[CRON_MAX_LENGTH + 64];
	size_t		n;
	CronSpec	spec;
	FuzzZone	zone = {0, 0, 1, 0, 0};
	int64_t		after;
	uint64_t	raw;

	memcpy(head, data, size < 16 ? size : 16);
	data += size < 16 ? size : 16;
	size -= size < 16 ? size : 16;
	/* the expression: up to the first NUL, at most a little past the length limit */
	n = strnlen((const char *) data, size);
	if (n >= sizeof(expr))
		n = sizeof(expr) - 1;
	memcpy(expr, data, n);
	expr[n] = '\0';

	if (!check_parse(expr, &spec))
		return 0;

	raw = read_u64(head + 1);
	if (head[0] & 16)
		after = (int64_t) raw;
	else						/* 1800-01-01 .. 2200-01-01 */
		after = (int64_t) (raw % (uint64_t) (400 * YEAR_USECS)) - 200 * YEAR_USECS;

	switch (head[0] & 3)
	{
		case 0:
			break;
		case 1:					/* a whole number of seconds in -14h .. +14h */
			zone.base = (int32_t) (read_u64(head + 8) % 100801) - 50400;
			break;
		default:				/* daylight saving time, shifted 1 s .. 3 h either way */
			zone.base = (int32_t) (head[9] % 57) * 900 - 50400;
			zone.shift = (int32_t) ((head[10] | head[11] << 8) % 10800) + 1;
			if (head[12] & 1)
				zone.shift = -zone.shift;
			zone.period = (6 + (head[13] | (head[14] & 1) << 8) % 400) * DAY + head[15] * 337;
			zone.length = 3 * DAY + (int64_t) (raw >> 40) % (zone.period - 6 * DAY + 1);
			zone.phase = (int64_t) (raw >> 20) % zone.period;
			break;
	}
	check_next(&spec, after, &zone, raw * 0x9E3779B97F4A7C15u);
	return 0;
}
