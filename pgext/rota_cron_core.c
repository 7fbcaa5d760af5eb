/*
 * rota_cron_core.c — cron parsing and next-fire arithmetic without PostgreSQL.
 *
 * A line-by-line port of the PL/pgSQL implementation (sql/migrations/0002_cron.sql holds
 * the contract), so that the differential test (tests/differential) can demand identical
 * answers and errors. Errors are returned (status and detail text), never raised; the
 * zone is a function giving the UTC offset at an instant. See rota_cron_core.h.
 */
#include "rota_cron_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECS_PER_DAY		INT64_C(86400)
/* Seconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
#define PG_EPOCH_SECS		INT64_C(946684800)
#define USECS_PER_SEC		INT64_C(1000000)
/* 0001-01-02 00:00 UTC and 294276-01-01 00:00 UTC in Unix seconds: the supported range. */
#define MIN_AFTER_SECS		INT64_C(-62135510400)
#define MAX_AFTER_SECS		INT64_C(9224286393600)
#define MAX_YEAR			294275
#define HORIZON_YEARS		100

static const char *const field_names[6] = {"second", "minute", "hour", "day-of-month", "month", "day-of-week"};
static const int field_min[6] = {0, 0, 0, 1, 1, 0};
static const int field_max[6] = {59, 59, 23, 31, 12, 7};
static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
static const int month_max_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Is c one of the ASCII whitespace characters that separate fields? */
static inline bool
cron_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Index of the lowest set bit of a non-zero bitmap. */
static inline int
lowest_bit(uint64_t bits)
{
	return __builtin_ctzll(bits);
}

/* The bits of a bitmap at positions >= v (v <= 63). */
static inline uint64_t
bits_from(uint64_t bits, int v)
{
	return bits & ~((UINT64_C(1) << v) - 1);
}

/* Writes the error detail (printf-style) and returns false, for `return fail(...)`. */
static bool
fail(char *detail, const char *fmt,...)
__attribute__((format(printf, 2, 3)));

static bool
fail(char *detail, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(detail, CRON_DETAIL_SIZE, fmt, args);
	va_end(args);
	return false;
}

/* Is the string a non-empty run of ASCII digits? */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Parses one value token of field k (number or name) into *v; false when invalid. */
static bool
parse_value(int k, const char *tok, int *v, char *detail)
{
	if (all_digits(tok))
	{
		*v = strlen(tok) > 9 ? -1 : atoi(tok);
		if (*v < field_min[k] || *v > field_max[k])
			return fail(detail, "%s field value %s out of range %d-%d",
						field_names[k], tok, field_min[k], field_max[k]);
		return true;
	}
	if (k == 4 && strlen(tok) == 3)
	{
		for (int i = 0; i < 12; i++)
			if (strcasecmp(tok, month_names[i]) == 0)
			{
				*v = i + 1;
				return true;
			}
	}
	if (k == 5 && strlen(tok) == 3)
	{
		for (int i = 0; i < 7; i++)
			if (strcasecmp(tok, day_names[i]) == 0)
			{
				*v = i;
				return true;
			}
	}
	return fail(detail, "%s field value \"%s\" is invalid", field_names[k], tok);
}

/* Parses field k (0 = second .. 5 = day-of-week) into *bits; false when invalid. */
static bool
parse_field(int k, char *field, uint64_t *bits, char *detail)
{
	int			span = field_max[k] - field_min[k] + 1;
	char	   *el = field;

	*bits = 0;
	for (;;)
	{
		char	   *comma = strchr(el, ',');
		char	   *slash;
		char	   *step = NULL;
		int			lo,
					hi,
					s = 1;

		if (comma)
			*comma = '\0';
		slash = strchr(el, '/');
		if (slash)
		{
			*slash = '\0';
			step = slash + 1;
		}
		if (strcmp(el, "*") == 0)
		{
			lo = field_min[k];
			hi = field_max[k];
		}
		else
		{
			char	   *dash = strchr(el, '-');

			if (dash)
			{
				*dash = '\0';
				if (!parse_value(k, el, &lo, detail) || !parse_value(k, dash + 1, &hi, detail))
					return false;
				*dash = '-';
			}
			else
			{
				if (!parse_value(k, el, &lo, detail))
					return false;
				hi = step ? field_max[k] : lo;
			}
		}
		if (step)
		{
			if (!all_digits(step))
				return fail(detail, "%s field step \"%s\" is invalid", field_names[k], step);
			s = strlen(step) > 9 ? 0 : atoi(step);
			if (s < 1 || s > span)
				return fail(detail, "%s field step %s out of range 1-%d", field_names[k], step, span);
		}
		if (lo > hi)
			return fail(detail, "%s field range \"%s\" is reversed", field_names[k], el);
		for (int v = lo; v <= hi; v += s)
			*bits |= UINT64_C(1) << v;
		if (!comma)
			break;
		el = comma + 1;
	}
	if (k == 5 && (*bits & 128) != 0)
		*bits = (*bits & 127) | 1;	/* 7 is Sunday */
	return true;
}

CronParseStatus
cron_parse(const char *cron, CronSpec *spec, char *detail)
{
	char		buf[CRON_MAX_LENGTH + 1];
	char	   *src = buf;
	char	   *end;
	char	   *fields[7];
	int			n = 0;
	uint64_t	bits[6] = {1, 0, 0, 0, 0, 0};
	char	   *p;
	size_t		len = strlen(cron);

	if (len > CRON_MAX_LENGTH)
	{
		fail(detail, "expression is longer than %d bytes", CRON_MAX_LENGTH);
		return CRON_PARSE_TOO_LONG;
	}
	memcpy(buf, cron, len + 1);

	/* trim */
	while (cron_is_space(*src))
		src++;
	end = src + strlen(src);
	while (end > src && cron_is_space(end[-1]))
		*--end = '\0';
	if (*src == '\0')
	{
		fail(detail, "expression is empty");
		return CRON_PARSE_INVALID;
	}
	if (*src == '@')
	{
		const char *expansion = NULL;

		if (strcasecmp(src, "@hourly") == 0)
			expansion = "0 * * * *";
		else if (strcasecmp(src, "@daily") == 0 || strcasecmp(src, "@midnight") == 0)
			expansion = "0 0 * * *";
		else if (strcasecmp(src, "@weekly") == 0)
			expansion = "0 0 * * 0";
		else if (strcasecmp(src, "@monthly") == 0)
			expansion = "0 0 1 * *";
		else if (strcasecmp(src, "@yearly") == 0 || strcasecmp(src, "@annually") == 0)
			expansion = "0 0 1 1 *";
		else
		{
			fail(detail, "unknown macro \"%s\"", src);
			return CRON_PARSE_INVALID;
		}
		strcpy(buf, expansion);
		src = buf;
	}

	/* split into fields, counting all of them */
	p = src;
	while (*p)
	{
		if (n < 7)
			fields[n] = p;
		n++;
		while (*p && !cron_is_space(*p))
			p++;
		if (*p)
		{
			*p++ = '\0';
			while (cron_is_space(*p))
				p++;
		}
	}
	if (n != 5 && n != 6)
	{
		fail(detail, "expected 5 or 6 fields, found %d", n);
		return CRON_PARSE_INVALID;
	}

	for (int i = 0; i < n; i++)
		if (!parse_field(i + 6 - n, fields[i], &bits[i + 6 - n], detail))
			return CRON_PARSE_INVALID;

	spec->secs = bits[0];
	spec->mins = bits[1];
	spec->hours = bits[2];
	spec->doms = bits[3];
	spec->months = bits[4];
	spec->dows = bits[5];
	spec->dom_star = fields[n - 3][0] == '*';
	spec->dow_star = fields[n - 1][0] == '*';

	/* a day-of-month that no selected month has never matches (see 0002_cron.sql) */
	if (spec->dow_star && !spec->dom_star)
	{
		int			mindom = lowest_bit(spec->doms);

		for (int m = 1; m <= 12; m++)
			if ((spec->months >> m) & 1 && month_max_days[m - 1] >= mindom)
				return CRON_PARSE_OK;
		fail(detail, "day-of-month field never matches: no selected day exists in the selected months");
		return CRON_PARSE_INVALID;
	}
	return CRON_PARSE_OK;
}

/* Floor division of a by b > 0. */
static inline int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if (a % b < 0)
		q--;
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of a day number since 1970-01-01 (H. Hinnant's civil_from_days). */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = (int) (yoe + era * 400 + (*m <= 2));
}

/* Days in month m of year y. */
static int
days_in_month(int y, int m)
{
	bool		leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

	return m == 2 ? (leap ? 29 : 28) : month_max_days[m - 1];
}

/* Weekday (0 = Sunday) of a day number since 1970-01-01, a Thursday. */
static int
weekday(int64_t days)
{
	return (int) ((days % 7 + 11) % 7);
}

/*
 * Smallest selected wall-clock second >= ws (seconds since 1970 of wall time), searching
 * up to the end of year ylimit; false when there is none. Mirrors rota._cron_next_wall.
 */
static bool
cron_next_wall(const CronSpec *s, int64_t ws, int ylimit, int64_t *result)
{
	int64_t		days = floor_div(ws, SECS_PER_DAY);
	int			s0 = (int) (ws - days * SECS_PER_DAY);
	int			y,
				m,
				d;
	int			fh = lowest_bit(s->hours),
				fm = lowest_bit(s->mins),
				fs = lowest_bit(s->secs);
	int			first = fh * 3600 + fm * 60 + fs;
	bool		or_mode = !(s->dom_star || s->dow_star);

	civil_from_days(days, &y, &m, &d);
	for (;;)
	{
		uint64_t	x = bits_from(s->months, m);
		int			dim,
					wd1;

		if (x == 0)
		{
			y++;
			m = 1;
			d = 1;
			s0 = 0;
			if (y <= ylimit)
				continue;
			return false;
		}
		if (lowest_bit(x) != m)
		{
			m = lowest_bit(x);
			d = 1;
			s0 = 0;
		}
		if (y > ylimit)
			return false;
		dim = days_in_month(y, m);
		wd1 = weekday(days_from_civil(y, m, 1));
		while (d <= dim)
		{
			bool		match;

			if (!or_mode)
			{
				x = bits_from(s->doms, d);
				if (x == 0)
					break;
				if (lowest_bit(x) != d)
				{
					d = lowest_bit(x);
					s0 = 0;
					if (d > dim)
						break;
				}
				match = (s->dows >> ((wd1 + d - 1) % 7)) & 1;
			}
			else
				match = ((s->doms >> d) & 1) || ((s->dows >> ((wd1 + d - 1) % 7)) & 1);
			if (match)
			{
				int			t = -1;

				if (s0 == 0)
					t = first;
				else
				{
					int			h = s0 / 3600,
								mi = (s0 / 60) % 60,
								se = s0 % 60;

					if ((s->hours >> h) & 1)
					{
						if ((s->mins >> mi) & 1)
						{
							x = bits_from(s->secs, se);
							if (x != 0)
								t = h * 3600 + mi * 60 + lowest_bit(x);
						}
						if (t < 0)
						{
							x = bits_from(s->mins, mi + 1);
							if (x != 0)
								t = h * 3600 + lowest_bit(x) * 60 + fs;
						}
					}
					if (t < 0)
					{
						x = bits_from(s->hours, h + 1);
						if (x != 0)
							t = lowest_bit(x) * 3600 + fm * 60 + fs;
					}
				}
				if (t >= 0)
				{
					*result = days_from_civil(y, m, d) * SECS_PER_DAY + t;
					return true;
				}
			}
			d++;
			s0 = 0;
		}
		m++;
		d = 1;
		s0 = 0;
		if (m > 12)
		{
			m = 1;
			y++;
		}
	}
}

/* First Unix second in (lo, hi] whose offset differs from `old` (binary search). */
static bool
find_transition(CronOffsetFn offset_fn, void *zone, int64_t lo, int64_t hi, int32_t old, int64_t *result)
{
	while (hi - lo > 1)
	{
		int64_t		mid = (lo + hi) / 2;
		int32_t		o;

		if (!offset_fn(zone, mid, &o))
			return false;
		if (o == old)
			lo = mid;
		else
			hi = mid;
	}
	*result = hi;
	return true;
}

CronNextStatus
cron_next(const CronSpec *spec, int64_t after, CronOffsetFn offset_fn, void *zone, int64_t *result)
{
	int64_t		a = floor_div(after, USECS_PER_SEC) + PG_EPOCH_SECS;
	int64_t		ws,
				m,
				t;
	int32_t		o_now,
				o_old,
				o_new;
	int			ylim,
				y,
				mo,
				d;

	if (a < MIN_AFTER_SECS || a >= MAX_AFTER_SECS)
		return CRON_NEXT_NONE;

	/* W(after), raised to the wall clock's high-water mark in a repeated hour */
	if (!offset_fn(zone, a, &o_now) || !offset_fn(zone, a - SECS_PER_DAY, &o_old))
		return CRON_NEXT_ZONE_ERROR;
	ws = a + o_now + 1;
	if (o_old > o_now)
	{
		int64_t		tr;

		if (!find_transition(offset_fn, zone, a - SECS_PER_DAY, a, o_old, &tr))
			return CRON_NEXT_ZONE_ERROR;
		if (tr + o_old > ws)
			ws = tr + o_old;
	}
	civil_from_days(floor_div(ws, SECS_PER_DAY), &y, &mo, &d);
	ylim = y + HORIZON_YEARS < MAX_YEAR ? y + HORIZON_YEARS : MAX_YEAR;

	for (;;)
	{
		if (!cron_next_wall(spec, ws, ylim, &m))
			return CRON_NEXT_NONE;
		/* the first instant the wall clock reaches m */
		if (!offset_fn(zone, m - SECS_PER_DAY, &o_old) || !offset_fn(zone, m + SECS_PER_DAY, &o_new))
			return CRON_NEXT_ZONE_ERROR;
		if (o_old == o_new)
			t = m - o_old;
		else
		{
			int64_t		hi;

			if (!find_transition(offset_fn, zone, m - SECS_PER_DAY, m + SECS_PER_DAY, o_old, &hi))
				return CRON_NEXT_ZONE_ERROR;
			if (m - o_old < hi)
				t = m - o_old;
			else if (m - o_new >= hi)
				t = m - o_new;
			else
				t = hi;
		}
		if ((t - PG_EPOCH_SECS) * USECS_PER_SEC > after)
		{
			*result = (t - PG_EPOCH_SECS) * USECS_PER_SEC;
			return CRON_NEXT_FOUND;
		}
		ws = m + 1;
	}
}
