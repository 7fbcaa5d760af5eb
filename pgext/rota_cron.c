/*
 * rota_cron.c — the C implementation of rota.cron_next (SQL: rota.cron_next_c).
 *
 * It computes exactly what the PL/pgSQL version rota._cron_next_plpgsql computes
 * (sql/migrations/0002_cron.sql holds the contract): the same syntax, the same DST rules,
 * the same bounds, and the same errors (SQLSTATE RO012 / RO013, identical messages).
 * The algorithm is a line-by-line port of the PL/pgSQL one, so that the differential
 * test (tests/differential) can demand identical answers; time zones go through
 * PostgreSQL's own zone code (pg_tzset, pg_localtime), as the TimeZone setting does.
 *
 * Per call site, the parsed expression and the zone are cached in fn_extra (in
 * flinfo->fn_mcxt, which lives as long as the query), so a query that evaluates one
 * schedule for many instants parses it once.
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rota_cron_next);

#define ERRCODE_ROTA_INVALID_CRON	MAKE_SQLSTATE('R','O','0','1','2')
#define ERRCODE_ROTA_UNKNOWN_ZONE	MAKE_SQLSTATE('R','O','0','1','3')

/* Seconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
#define ROTA_PG_EPOCH_SECS	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
/* 0001-01-02 00:00 UTC and 294276-01-01 00:00 UTC in Unix seconds: the supported range. */
#define ROTA_MIN_AFTER_SECS	INT64CONST(-62135510400)
#define ROTA_MAX_AFTER_SECS	INT64CONST(9224286393600)
#define ROTA_MAX_YEAR		294275
#define ROTA_HORIZON_YEARS	100

/* The parsed form of a cron expression: one bitmap per field, and the Vixie flags. */
typedef struct CronSpec
{
	uint64		secs;
	uint64		mins;
	uint64		hours;
	uint64		doms;
	uint64		months;
	uint64		dows;
	bool		dom_star;
	bool		dow_star;
} CronSpec;

/* What a call site caches between calls (in fn_mcxt). */
typedef struct CronCache
{
	text	   *cron;			/* the expression last parsed, or NULL */
	CronSpec	spec;
	char	   *tzname;			/* the zone last looked up, or NULL */
	pg_tz	   *tz;
} CronCache;

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
lowest_bit(uint64 bits)
{
	return __builtin_ctzll(bits);
}

/* The bits of a bitmap at positions >= v (v <= 63). */
static inline uint64
bits_from(uint64 bits, int v)
{
	return bits & ~((UINT64CONST(1) << v) - 1);
}

/* Raises RO012 for cron expression `cron` with the detail given (printf-style). */
static void
cron_error(const char *cron, const char *fmt,...)
pg_attribute_printf(2, 3);

static void
cron_error(const char *cron, const char *fmt,...)
{
	StringInfoData detail;

	initStringInfo(&detail);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&detail, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&detail, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_ROTA_INVALID_CRON),
			 errmsg("rota.cron_next: invalid cron expression \"%s\": %s", cron, detail.data)));
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

/* Parses one value token of field k (number or name); raises RO012 when invalid. */
static int
parse_value(const char *cron, int k, const char *tok)
{
	if (all_digits(tok))
	{
		int			v = strlen(tok) > 9 ? -1 : atoi(tok);

		if (v < field_min[k] || v > field_max[k])
			cron_error(cron, "%s field value %s out of range %d-%d",
					   field_names[k], tok, field_min[k], field_max[k]);
		return v;
	}
	if (k == 4 && strlen(tok) == 3)
	{
		for (int i = 0; i < 12; i++)
			if (pg_strcasecmp(tok, month_names[i]) == 0)
				return i + 1;
	}
	if (k == 5 && strlen(tok) == 3)
	{
		for (int i = 0; i < 7; i++)
			if (pg_strcasecmp(tok, day_names[i]) == 0)
				return i;
	}
	cron_error(cron, "%s field value \"%s\" is invalid", field_names[k], tok);
	return 0;					/* not reached */
}

/* Parses field k (0 = second .. 5 = day-of-week) into a bitmap; raises RO012 when invalid. */
static uint64
parse_field(const char *cron, int k, char *field)
{
	uint64		bits = 0;
	int			span = field_max[k] - field_min[k] + 1;
	char	   *el = field;

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
				lo = parse_value(cron, k, el);
				hi = parse_value(cron, k, dash + 1);
				*dash = '-';
			}
			else
			{
				lo = parse_value(cron, k, el);
				hi = step ? field_max[k] : lo;
			}
		}
		if (step)
		{
			if (!all_digits(step))
				cron_error(cron, "%s field step \"%s\" is invalid", field_names[k], step);
			s = strlen(step) > 9 ? 0 : atoi(step);
			if (s < 1 || s > span)
				cron_error(cron, "%s field step %s out of range 1-%d", field_names[k], step, span);
		}
		if (lo > hi)
			cron_error(cron, "%s field range \"%s\" is reversed", field_names[k], el);
		for (int v = lo; v <= hi; v += s)
			bits |= UINT64CONST(1) << v;
		if (!comma)
			break;
		el = comma + 1;
	}
	if (k == 5 && (bits & 128) != 0)
		bits = (bits & 127) | 1;	/* 7 is Sunday */
	return bits;
}

/* Parses a whole cron expression (or macro) into *spec; raises RO012 when invalid. */
static void
cron_parse(const char *cron, CronSpec *spec)
{
	char	   *buf = pstrdup(cron);
	char	   *src = buf;
	char	   *expanded = NULL;	/* a macro's expansion */
	char	   *end;
	char	   *fields[7];
	int			n = 0;
	uint64		bits[6] = {1, 0, 0, 0, 0, 0};
	char	   *p;

	/* trim */
	while (cron_is_space(*src))
		src++;
	end = src + strlen(src);
	while (end > src && cron_is_space(end[-1]))
		*--end = '\0';
	if (*src == '\0')
		cron_error(cron, "expression is empty");
	if (*src == '@')
	{
		if (pg_strcasecmp(src, "@hourly") == 0)
			src = expanded = pstrdup("0 * * * *");
		else if (pg_strcasecmp(src, "@daily") == 0 || pg_strcasecmp(src, "@midnight") == 0)
			src = expanded = pstrdup("0 0 * * *");
		else if (pg_strcasecmp(src, "@weekly") == 0)
			src = expanded = pstrdup("0 0 * * 0");
		else if (pg_strcasecmp(src, "@monthly") == 0)
			src = expanded = pstrdup("0 0 1 * *");
		else if (pg_strcasecmp(src, "@yearly") == 0 || pg_strcasecmp(src, "@annually") == 0)
			src = expanded = pstrdup("0 0 1 1 *");
		else
			cron_error(cron, "unknown macro \"%s\"", src);
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
		cron_error(cron, "expected 5 or 6 fields, found %d", n);

	for (int i = 0; i < n; i++)
		bits[i + 6 - n] = parse_field(cron, i + 6 - n, fields[i]);

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
		bool		ok = false;

		for (int m = 1; m <= 12; m++)
			if ((spec->months >> m) & 1 && month_max_days[m - 1] >= mindom)
			{
				ok = true;
				break;
			}
		if (!ok)
			cron_error(cron, "day-of-month field never matches: no selected day exists in the selected months");
	}
	if (expanded)
		pfree(expanded);
	pfree(buf);
}

/*
 * Looks up a time zone as the TimeZone setting would (IANA or POSIX-style names, no
 * numeric offsets, intervals or abbreviations); raises RO013 when unknown.
 */
static pg_tz *
cron_zone(const char *name)
{
	bool		ok = (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z');
	pg_tz	   *tz = NULL;

	for (const char *p = name + 1; ok && *p; p++)
		ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '_' || *p == '+' || *p == '/' || *p == '-';
	if (ok && (pg_strcasecmp(name, "inf") == 0 || pg_strcasecmp(name, "infinity") == 0 ||
			   pg_strcasecmp(name, "nan") == 0 || pg_strncasecmp(name, "interval", 8) == 0))
		ok = false;
	if (ok)
	{
		tz = pg_tzset(name);
		if (tz && !pg_tz_acceptable(tz))
			tz = NULL;
	}
	if (!tz)
		ereport(ERROR,
				(errcode(ERRCODE_ROTA_UNKNOWN_ZONE),
				 errmsg("rota.cron_next: unknown time zone \"%s\"", name)));
	return tz;
}

/* UTC offset (seconds east) of zone tz at Unix time t. */
static int
zone_offset(pg_tz *tz, int64 t)
{
	pg_time_t	tt = (pg_time_t) t;
	struct pg_tm *tm = pg_localtime(&tt, tz);

	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("rota.cron_next: time out of range for the time zone")));
	return (int) tm->tm_gmtoff;
}

/* First Unix second in (lo, hi] whose offset differs from `old` (binary search). */
static int64
find_transition(pg_tz *tz, int64 lo, int64 hi, int old)
{
	while (hi - lo > 1)
	{
		int64		mid = (lo + hi) / 2;

		if (zone_offset(tz, mid) == old)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Floor division of a by b > 0. */
static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b < 0)
		q--;
	return q;
}

/*
 * Smallest selected wall-clock second >= ws (seconds since 1970 of wall time), searching
 * up to the end of year ylimit; false when there is none. Mirrors rota._cron_next_wall.
 */
static bool
cron_next_wall(const CronSpec *s, int64 ws, int ylimit, int64 *result)
{
	int64		days = floor_div(ws, SECS_PER_DAY);
	int			s0 = (int) (ws - days * SECS_PER_DAY);
	int			y,
				m,
				d;
	int			fh = lowest_bit(s->hours),
				fm = lowest_bit(s->mins),
				fs = lowest_bit(s->secs);
	int			first = fh * 3600 + fm * 60 + fs;
	bool		or_mode = !(s->dom_star || s->dow_star);

	j2date((int) (days + UNIX_EPOCH_JDATE), &y, &m, &d);
	for (;;)
	{
		uint64		x = bits_from(s->months, m);
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
		dim = day_tab[isleap(y) ? 1 : 0][m - 1];
		wd1 = j2day(date2j(y, m, 1));
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
					*result = ((int64) date2j(y, m, d) - UNIX_EPOCH_JDATE) * SECS_PER_DAY + t;
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

/*
 * rota.cron_next_c(cron text, after timestamptz, timezone text DEFAULT 'UTC')
 * returns timestamptz: the smallest fire instant of `cron` in `timezone` strictly after
 * `after` (NULL when out of range). Same contract as rota._cron_next_plpgsql.
 */
Datum
rota_cron_next(PG_FUNCTION_ARGS)
{
	text	   *cron_t = PG_GETARG_TEXT_PP(0);
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
	text	   *zone_t = PG_GETARG_TEXT_PP(2);
	CronCache  *cache = (CronCache *) fcinfo->flinfo->fn_extra;
	char	   *zone;
	pg_tz	   *tz;
	int64		a,
				ws,
				days,
				m,
				t,
				lo,
				hi;
	int			o_now,
				o_old,
				o_new,
				ylim,
				y,
				mo,
				d;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CronCache));
		fcinfo->flinfo->fn_extra = cache;
	}

	/* the expression: parse unless it is the one parsed last time */
	if (cache->cron == NULL ||
		VARSIZE_ANY_EXHDR(cache->cron) != VARSIZE_ANY_EXHDR(cron_t) ||
		memcmp(VARDATA_ANY(cache->cron), VARDATA_ANY(cron_t), VARSIZE_ANY_EXHDR(cron_t)) != 0)
	{
		char	   *cron = text_to_cstring(cron_t);
		CronSpec	spec;
		text	   *copy;

		cron_parse(cron, &spec);
		copy = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE_ANY_EXHDR(cron_t) + VARHDRSZ);
		SET_VARSIZE(copy, VARSIZE_ANY_EXHDR(cron_t) + VARHDRSZ);
		memcpy(VARDATA(copy), VARDATA_ANY(cron_t), VARSIZE_ANY_EXHDR(cron_t));
		if (cache->cron)
			pfree(cache->cron);
		cache->cron = copy;
		cache->spec = spec;
		pfree(cron);
	}

	/* the zone: look up unless it is the one looked up last time */
	zone = text_to_cstring(zone_t);
	if (cache->tzname == NULL || strcmp(cache->tzname, zone) != 0)
	{
		tz = cron_zone(zone);
		if (cache->tzname)
			pfree(cache->tzname);
		cache->tzname = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, zone);
		cache->tz = tz;
	}
	tz = cache->tz;
	pfree(zone);

	if (TIMESTAMP_NOT_FINITE(after))
		PG_RETURN_NULL();
	a = floor_div(after, USECS_PER_SEC) + ROTA_PG_EPOCH_SECS;
	if (a < ROTA_MIN_AFTER_SECS || a >= ROTA_MAX_AFTER_SECS)
		PG_RETURN_NULL();

	/* W(after), raised to the wall clock's high-water mark in a repeated hour */
	o_now = zone_offset(tz, a);
	ws = a + o_now + 1;
	o_old = zone_offset(tz, a - SECS_PER_DAY);
	if (o_old > o_now)
	{
		int64		tr = find_transition(tz, a - SECS_PER_DAY, a, o_old);

		if (tr + o_old > ws)
			ws = tr + o_old;
	}
	days = floor_div(ws, SECS_PER_DAY);
	j2date((int) (days + UNIX_EPOCH_JDATE), &y, &mo, &d);
	ylim = Min(y + ROTA_HORIZON_YEARS, ROTA_MAX_YEAR);

	for (;;)
	{
		if (!cron_next_wall(&cache->spec, ws, ylim, &m))
			PG_RETURN_NULL();
		/* the first instant the wall clock reaches m */
		o_old = zone_offset(tz, m - SECS_PER_DAY);
		o_new = zone_offset(tz, m + SECS_PER_DAY);
		if (o_old == o_new)
			t = m - o_old;
		else
		{
			lo = m - SECS_PER_DAY;
			hi = find_transition(tz, lo, m + SECS_PER_DAY, o_old);
			if (m - o_old < hi)
				t = m - o_old;
			else if (m - o_new >= hi)
				t = m - o_new;
			else
				t = hi;
		}
		if ((t - ROTA_PG_EPOCH_SECS) * USECS_PER_SEC > after)
			PG_RETURN_TIMESTAMPTZ((t - ROTA_PG_EPOCH_SECS) * USECS_PER_SEC);
		ws = m + 1;
	}
}
