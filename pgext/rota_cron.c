/*
 * rota_cron.c — the C implementation of rota.cron_next (SQL: rota.cron_next_c): the
 * PostgreSQL side of it.
 *
 * The parsing and the next-fire arithmetic live in rota_cron_core.c, which knows nothing
 * of PostgreSQL (the libFuzzer harness in fuzz/ compiles it on its own). This file turns
 * the core's error statuses into the PL/pgSQL version's errors (SQLSTATE RO012 / RO013,
 * identical messages), checks time zones exactly as rota._check_timezone does, and gives
 * the core PostgreSQL's own zone code (pg_tzset, pg_localtime), as the TimeZone setting
 * uses it; sql/migrations/0002_cron.sql holds the contract.
 *
 * Per call site, the parsed expression and the zone are cached in fn_extra (in
 * flinfo->fn_mcxt, which lives as long as the query), so a query that evaluates one
 * schedule for many instants parses it once.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "rota_cron_core.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rota_cron_next);

#define ERRCODE_ROTA_INVALID_CRON	MAKE_SQLSTATE('R','O','0','1','2')
#define ERRCODE_ROTA_UNKNOWN_ZONE	MAKE_SQLSTATE('R','O','0','1','3')

/* A value longer than its limit is echoed in errors as this many characters and "...". */
#define ROTA_ECHO_CHARS			64
/* Zone names longer than this (no real one is) are echoed truncated. */
#define ROTA_ZONE_ECHO_LIMIT	64

/* What a call site caches between calls (in fn_mcxt). */
typedef struct CronCache
{
	text	   *cron;			/* the expression last parsed, or NULL */
	CronSpec	spec;
	char	   *tzname;			/* the zone last looked up, or NULL */
	pg_tz	   *tz;
} CronCache;

/*
 * Per backend, read when first needed: the names of pg_timezone_names that have a digit
 * and no lower-case letter (EST5EDT, GMT0, ...), the only ones a POSIX-style spec can
 * look like. Like pg_tzset's cache of zones, it lives as long as the backend.
 */
static List *digit_zone_names = NIL;
static bool digit_zone_names_read = false;

/* s for an error message: itself up to `limit` bytes, else its first characters and "...". */
static char *
echo_value(const char *s, int limit)
{
	int			len = strlen(s);

	if (len <= limit)
		return pstrdup(s);
	return psprintf("%.*s...", pg_mbcharcliplen(s, len, ROTA_ECHO_CHARS), s);
}

/* Raises RO012 for the expression `cron` with the core's detail. */
static void
raise_invalid_cron(const char *cron, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_ROTA_INVALID_CRON),
			 errmsg("rota.cron_next: invalid cron expression \"%s\": %s",
					echo_value(cron, CRON_MAX_LENGTH), detail)));
}

/* Is `name`, or its last path component, `base`? */
static bool
zone_basename_is(const char *name, const char *base)
{
	const char *slash = strrchr(name, '/');

	return strcmp(slash ? slash + 1 : name, base) == 0;
}

/* Does the name have a digit and no lower-case letter (so it may be a POSIX-style spec)? */
static bool
looks_like_posix_spec(const char *name)
{
	return strpbrk(name, "0123456789") != NULL && strpbrk(name, "abcdefghijklmnopqrstuvwxyz") == NULL;
}

/* Is `name` one of pg_timezone_names' entries that looks like a POSIX-style spec? */
static bool
is_digit_zone(const char *name)
{
	ListCell   *lc;

	if (!digit_zone_names_read)
	{
		/* the filter runs here: no operator of the query depends on search_path */
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "rota.cron_next: SPI_connect failed");
		if (SPI_execute("SELECT name FROM pg_catalog.pg_timezone_names", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "rota.cron_next: could not read pg_timezone_names");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *zone = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (looks_like_posix_spec(zone))
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				digit_zone_names = lappend(digit_zone_names, pstrdup(zone));
				MemoryContextSwitchTo(old);
			}
		}
		SPI_finish();
		digit_zone_names_read = true;
	}
	foreach(lc, digit_zone_names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * Looks up a time zone; raises RO013 unless it is an IANA name of pg_timezone_names
 * spelled as there, other than localtime, posixrules and Factory. The same rule as
 * rota._check_timezone, step by step:
 *   - letters, digits, "_", "+", "/", "-", starting with a letter (no offsets, no "..");
 *   - not localtime, posixrules or Factory, in any folder (posix/Factory);
 *   - the zone code loads it (pg_tzset, no leap-second zone: what SET TimeZone takes) and
 *     spells it exactly so (canonical case: pg_timezone_names has Europe/Berlin only);
 *   - a name with a digit and no lower-case letter may be a POSIX-style spec (UTC+5,
 *     FOO+167BAR-167) rather than a file: it must be in pg_timezone_names itself. Any
 *     other name that loads comes from a file: a POSIX spec needs a digit (its offset)
 *     and is spelled upper case.
 */
static pg_tz *
cron_zone(const char *name)
{
	bool		ok = (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z');
	pg_tz	   *tz = NULL;

	for (const char *p = name + 1; ok && *p; p++)
		ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '_' || *p == '+' || *p == '/' || *p == '-';
	ok = ok && !zone_basename_is(name, "localtime") && !zone_basename_is(name, "posixrules") &&
		!zone_basename_is(name, "Factory");
	if (ok)
	{
		tz = pg_tzset(name);
		if (tz && (!pg_tz_acceptable(tz) || strcmp(pg_get_timezone_name(tz), name) != 0 ||
				   (looks_like_posix_spec(name) && !is_digit_zone(name))))
			tz = NULL;
	}
	if (!tz)
		ereport(ERROR,
				(errcode(ERRCODE_ROTA_UNKNOWN_ZONE),
				 errmsg("rota.cron_next: unknown time zone \"%s\"", echo_value(name, ROTA_ZONE_ECHO_LIMIT))));
	return tz;
}

/* The core's CronOffsetFn for a PostgreSQL zone (pg_tz *). */
static bool
pg_zone_offset(void *zone, int64_t t, int32_t *offset)
{
	pg_time_t	tt = (pg_time_t) t;
	struct pg_tm *tm = pg_localtime(&tt, (pg_tz *) zone);

	if (tm == NULL)
		return false;
	*offset = (int32_t) tm->tm_gmtoff;
	return true;
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
	int64_t		next;

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
		char		detail[CRON_DETAIL_SIZE];
		CronSpec	spec;
		text	   *copy;

		if (cron_parse(cron, &spec, detail) != CRON_PARSE_OK)
			raise_invalid_cron(cron, detail);
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
		pg_tz	   *tz = cron_zone(zone);

		if (cache->tzname)
			pfree(cache->tzname);
		cache->tzname = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, zone);
		cache->tz = tz;
	}
	pfree(zone);

	switch (cron_next(&cache->spec, after, pg_zone_offset, cache->tz, &next))
	{
		case CRON_NEXT_FOUND:
			PG_RETURN_TIMESTAMPTZ((TimestampTz) next);
		case CRON_NEXT_NONE:
			PG_RETURN_NULL();
		case CRON_NEXT_ZONE_ERROR:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("rota.cron_next: time out of range for the time zone")));
	PG_RETURN_NULL();			/* not reached */
}
