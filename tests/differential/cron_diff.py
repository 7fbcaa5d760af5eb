#!/usr/bin/env python3
"""Differential test: rota._cron_next_plpgsql (PL/pgSQL) against rota.cron_next_c (C).

Generates random cron expressions (valid and invalid), instants (random ones and ones
near the DST transitions of several zones) and zones, loads them into a temporary table
and evaluates both implementations in one query; every answer, including the error
(SQLSTATE and message) of an invalid input, must be identical. Also checks that every
answer is strictly after its instant, that both accept exactly the zones of
pg_timezone_names (less localtime, posixrules and Factory), and that rota.cron_next
dispatches to the C version.

    tests/differential/cron_diff.py DATABASE_URL      (the schema and rota_cron installed)

Environment: ROTA_DIFF_SEED (default 20260326), ROTA_DIFF_SCALE (default 1.0).
Exit status 1 on any mismatch.
"""
import csv
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import zoneinfo

SEED = int(os.environ.get("ROTA_DIFF_SEED", "20260326"))
SCALE = float(os.environ.get("ROTA_DIFF_SCALE", "1.0"))
rng = random.Random(SEED)

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
         "America/Sao_Paulo", "Europe/London", "Pacific/Chatham", "America/St_Johns",
         "Asia/Tehran", "Pacific/Apia", "posix/Europe/Berlin", "EST5EDT", "Etc/GMT-14", "CET"]
MAIN_ZONES = ZONES[:6]
# Only IANA names of pg_timezone_names, spelled as there, are zones; not POSIX-style specs
# (one took 11.6 s in PL/pgSQL), localtime, posixrules or Factory.
BAD_ZONES = ["Mars/Base", "", "Europe/Berlin ", "+02:00", "5", "interval '1 hour'", "UTC+3x y",
             "nan", "Infinity", "Europe//Berlin", "../etc/passwd", "Europe/Berlín", "europe/berlin", "utc",
             "FOO+167BAR-167", "foo+167bar-167", "UTC+5", "EST5", "<+03>-3", "localtime", "posixrules",
             "Factory", "posix/Factory", "right/UTC", "Europe/" * 12 + "Berlin", "Ü" * 100]
# Expressions over the length limit (256 bytes), and one just at it.
LONG_EXPRESSIONS = ["0 " + ",".join(str(i % 24) for i in range(120)) + " * * *", "0 0 * * *" + " " * 300,
                    "é" * 150 + " * * * *", "0," * 123 + "0  * * * *", "0," * 123 + "0   * * * *"]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
LIMITS = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
UTC = dt.timezone.utc


def value(k, v):
    """A value of field k, sometimes spelled as a name."""
    if k == 4 and rng.random() < 0.3:
        n = MONTHS[v - 1]
        return n.lower() if rng.random() < 0.3 else n
    if k == 5 and v < 7 and rng.random() < 0.3:
        n = DAYS[v]
        return n.capitalize() if rng.random() < 0.3 else n
    return str(v)


def element(k, dst_hours=False):
    lo, hi = LIMITS[k]
    if k == 2 and dst_hours and rng.random() < 0.6:
        lo, hi = 0, 4
    r = rng.random()
    if r < 0.15:
        return "*"
    if r < 0.3:
        return "*/%d" % rng.randint(1, min(hi - LIMITS[k][0] + 1, 20))
    a = rng.randint(lo, hi)
    if r < 0.6:
        return value(k, a)
    b = rng.randint(a, hi)
    if r < 0.8:
        return "%s-%s" % (value(k, a), value(k, b))
    if r < 0.9:
        return "%s-%s/%d" % (value(k, a), value(k, b), rng.randint(1, 10))
    return "%s/%d" % (value(k, a), rng.randint(1, 15))


def field(k, dst_hours=False):
    if k in (3, 4, 5) and rng.random() < 0.5:
        return "*"
    if k == 0 and rng.random() < 0.3:
        return "0"
    n = 1 if rng.random() < 0.7 else rng.randint(2, 4)
    return ",".join(element(k, dst_hours) for _ in range(n))


def expression(dst_hours=False):
    r = rng.random()
    if r < 0.04:
        m = rng.choice(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"])
        return m.upper() if rng.random() < 0.3 else m
    six = rng.random() < 0.3
    fields = [field(k, dst_hours) for k in range(0 if six else 1, 6)]
    sep = " " if rng.random() < 0.9 else rng.choice(["  ", "\t", " \t "])
    e = sep.join(fields)
    if rng.random() < 0.03:
        e = " " + e + " \n"
    return e


def invalid_expression():
    fields = expression().split()
    if fields[0].startswith("@"):
        fields = ["0", "0", "*", "*", "*"]
    k0 = 6 - len(fields)
    i = rng.randrange(len(fields))
    k = i + k0
    lo, hi = LIMITS[k]
    bad = rng.choice([
        str(hi + rng.randint(1, 100)), str(lo - 1) if lo > 0 else "-1", "*/0", "*/%d" % (hi - lo + 2 + rng.randint(0, 50)),
        "x", "JANX", "MON" if k != 5 else "JAN", "JAN" if k != 4 else "MON", "%d-%d" % (hi, lo) if hi > lo else "5-1",
        "1,,2", ",", "1,", "*-5", "1-2-3", "1/2/3", "/5", "1-", "*/x", "*/", "?", "L", "1.5", "99999999999",
        "0x1", "+1", "**", "1-2/0", "%d/%d" % (lo, 1000),
    ])
    fields[i] = bad
    r = rng.random()
    if r < 0.1:
        return " ".join(fields[:rng.randint(0, 4)])
    if r < 0.15:
        return " ".join(fields + ["0", "0"][:rng.randint(1, 2)])
    if r < 0.2:
        return rng.choice(["@reboot", "@every 5m", "@Hourly x", "@", "", "   ", "0 0 30 2 *", "0 0 31 4,6,9 *",
                           "0 0 30,31 FEB *", "0 0 31 2 */2", "0 0 31 2-4/2 *", "\t"] + LONG_EXPRESSIONS)
    return " ".join(fields)


def transitions(zone, start=2024, end=2031):
    """UTC instants where the zone's offset changes (scanned every 15 minutes)."""
    z = zoneinfo.ZoneInfo(zone)
    t = dt.datetime(start, 1, 1, tzinfo=UTC)
    stop = dt.datetime(end, 1, 1, tzinfo=UTC)
    step = dt.timedelta(minutes=15)
    out = []
    prev = t.astimezone(z).utcoffset()
    while t < stop:
        t2 = t + step
        off = t2.astimezone(z).utcoffset()
        if off != prev:
            out.append(t2)
            prev = off
        t = t2
    return out


def random_instant():
    base = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return base + dt.timedelta(microseconds=rng.randrange(0, 130 * 365 * 86400 * 10**6))


def fmt(t):
    return t.strftime("%Y-%m-%d %H:%M:%S.%f+00")



# ---------------------------------------------------------------------------------------
# An independent oracle for the DST semantics (brute force, Python's zoneinfo reading the
# same system tzdata as PostgreSQL): step UTC minute by minute keeping the wall clock's
# high-water mark H; a selected wall minute m fires at the first minute t with H(t) >= m.
# Used for 5-field expressions (whole minutes) whose next fire is within 3 days.

def py_parse(expr):
    macros = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
              "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
    e = expr.strip()
    if e.startswith("@"):
        e = macros[e.lower()]
    fields = e.split()
    if len(fields) != 5:
        return None
    sets = []
    for k, f in zip(range(1, 6), fields):
        lo0, hi0 = LIMITS[k]
        vals = set()
        for el in f.split(","):
            base, _, step = el.partition("/")
            s = int(step) if step else 1
            if s > hi0 - lo0 + 1:
                return None

            def v(tok):
                if tok.isdigit():
                    return int(tok)
                return (MONTHS.index(tok.upper()) + 1) if k == 4 else DAYS.index(tok.upper())
            if base == "*":
                lo, hi = lo0, hi0
            elif "-" in base:
                a, b = base.split("-", 1)
                lo, hi = v(a), v(b)
            else:
                lo = v(base)
                hi = hi0 if step else lo
            vals.update(range(lo, hi + 1, s))
        if k == 5 and 7 in vals:
            vals.discard(7)
            vals.add(0)
        sets.append(vals)
    return sets, fields[2].startswith("*"), fields[4].startswith("*")


def py_matches(spec, w):
    (mins, hours, doms, months, dows), dom_star, dow_star = spec
    if w.minute not in mins or w.hour not in hours or w.month not in months:
        return False
    dom_ok = w.day in doms
    dow_ok = (w.isoweekday() % 7) in dows
    return (dom_ok and dow_ok) if (dom_star or dow_star) else (dom_ok or dow_ok)


def oracle(expr, after, zone):
    """Next fire strictly after `after` (a whole-minute UTC datetime), or None if not within 3 days."""
    spec = py_parse(expr)
    z = zoneinfo.ZoneInfo(zone)
    minute = dt.timedelta(minutes=1)
    wall = lambda t: t.astimezone(z).replace(tzinfo=None)
    t = after - dt.timedelta(days=2)
    h = wall(t)
    while t < after:
        t += minute
        h = max(h, wall(t))
    for _ in range(3 * 1440):
        t += minute
        w = wall(t)
        if w > h:
            m = h + minute
            while m <= w:
                if py_matches(spec, m):
                    return t
                m += minute
            h = w
    return None


def main():
    url = sys.argv[1]
    cases = []
    n = lambda x: max(1, int(x * SCALE))
    for _ in range(n(8000)):
        cases.append(("random", expression(), fmt(random_instant()), rng.choice(ZONES)))
    trans = {z: transitions(z) for z in MAIN_ZONES + ["Pacific/Chatham", "Europe/London"]}
    for _ in range(n(12000)):
        z = rng.choice(list(trans))
        if not trans[z]:
            continue
        t = rng.choice(trans[z])
        r = rng.random()
        if r < 0.2:
            d = dt.timedelta(seconds=rng.choice([0, -1, 1, -3600, 3600, -1800, 1800, -7200, 7200]),
                             microseconds=rng.choice([0, 0, -1, 1]))
        else:
            d = dt.timedelta(seconds=rng.randint(-4 * 3600, 4 * 3600), microseconds=rng.choice([0, rng.randrange(10**6)]))
        cases.append(("dst", expression(dst_hours=True), fmt(t + d), z))
    for _ in range(n(4000)):
        cases.append(("invalid", invalid_expression(), fmt(random_instant()), rng.choice(ZONES)))
    for _ in range(n(400)):
        cases.append(("badzone", expression(), fmt(random_instant()), rng.choice(BAD_ZONES)))
    for a in ["infinity", "-infinity", "0001-01-01 00:00:00+00", "0001-01-02 00:00:00+00", "0001-01-02 12:00:00+00",
              "294275-12-31 00:00:00+00", "294276-01-01 00:00:00+00", "294275-06-01 00:00:00+00",
              "1900-01-01 00:00:00+00", "1893-04-01 00:00:00+00", "2099-12-31 23:59:59.999999+00"]:
        for e in ["* * * * *", "0 0 29 2 *", "0 0 29 2 */7", "@yearly", "59 23 31 12 *"]:
            for z in ["UTC", "Europe/Berlin", "Pacific/Apia"]:
                cases.append(("edge", e, a, z))
    for e in LONG_EXPRESSIONS:
        for z in ["UTC", "Europe/Berlin"]:
            cases.append(("long", e, "2026-01-01 00:00:30+00", z))
    for z in BAD_ZONES:
        cases.append(("badzone", "0 0 * * *", "2026-01-01 00:00:00+00", z))

    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as f:
        w = csv.writer(f)
        for i, (kind, e, a, z) in enumerate(cases):
            w.writerow([i, kind, e, a, z])
        path = f.name
    sql = f"""
\\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
CREATE TEMP TABLE cases (id int, kind text, cron text, after timestamptz, tz text);
\\copy cases FROM '{path}' (FORMAT csv)
CREATE FUNCTION pg_temp.try(impl int, c text, a timestamptz, z text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF impl = 0 THEN
        RETURN coalesce(rota._cron_next_plpgsql(c, a, z)::text, 'NULL');
    ELSIF impl = 1 THEN
        RETURN coalesce(rota.cron_next_c(c, a, z)::text, 'NULL');
    END IF;
    RETURN coalesce(rota.cron_next(c, a, z)::text, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE answers AS
    SELECT id, kind, cron, after, tz, pg_temp.try(0, cron, after, tz) AS p, pg_temp.try(1, cron, after, tz) AS c
    FROM cases;
\\pset format unaligned
\\pset fieldsep '|'
\\pset tuples_only on
SELECT 'COUNT', kind, count(*), count(*) FILTER (WHERE p IS DISTINCT FROM c),
       count(*) FILTER (WHERE p LIKE 'ERROR RO012%'), count(*) FILTER (WHERE p LIKE 'ERROR RO013%'),
       count(*) FILTER (WHERE p LIKE 'ERROR%' AND p NOT LIKE 'ERROR RO01%'), count(*) FILTER (WHERE p = 'NULL'),
       count(*) FILTER (WHERE p NOT LIKE 'ERROR%' AND p <> 'NULL' AND p::timestamptz <= after)
FROM answers GROUP BY kind ORDER BY kind;
SELECT 'MISMATCH', id, kind, replace(cron, E'\\n', '\\n'), after, tz, p, c FROM answers WHERE p IS DISTINCT FROM c ORDER BY id LIMIT 20;
SELECT 'NOTAFTER', id, cron, after, tz, p FROM answers
 WHERE p NOT LIKE 'ERROR%' AND p <> 'NULL' AND p::timestamptz <= after LIMIT 10;
SELECT 'OTHERERR', id, cron, after, tz, p FROM answers WHERE p LIKE 'ERROR%' AND p NOT LIKE 'ERROR RO01%' LIMIT 10;
-- chains: successive fires from instants just before DST transitions, both implementations
WITH RECURSIVE starts(sid, cron, tz, t0) AS (
    SELECT id, cron, tz, after FROM answers WHERE kind = 'dst' AND p NOT LIKE 'ERROR%' AND id % 10 = 0
), chain(sid, n, tp, tc) AS (
    SELECT sid, 0, t0, t0 FROM starts
    UNION ALL
    SELECT c.sid, c.n + 1, rota._cron_next_plpgsql(s.cron, c.tp, s.tz), rota.cron_next_c(s.cron, c.tc, s.tz)
    FROM chain c JOIN starts s USING (sid) WHERE c.n < 12 AND c.tp IS NOT NULL
)
SELECT 'CHAIN', count(*), count(*) FILTER (WHERE tp IS DISTINCT FROM tc) FROM chain WHERE n > 0;
-- zones: both accept exactly the names of pg_timezone_names but localtime, posixrules and
-- Factory; tried: every name, upper- and lower-cased, and POSIX-style specs
CREATE TEMP TABLE catalog_zones AS SELECT name FROM pg_timezone_names;
CREATE TEMP TABLE zone_names AS
SELECT n, n IN (SELECT name FROM catalog_zones) AND n !~ '(^|/)(localtime|posixrules|Factory)$' AS expected,
       pg_temp.try(0, '0 0 * * *', '2026-01-01', n) NOT LIKE 'ERROR RO013%' AS p_ok,
       pg_temp.try(1, '0 0 * * *', '2026-01-01', n) NOT LIKE 'ERROR RO013%' AS c_ok
  FROM (SELECT name FROM catalog_zones UNION SELECT upper(name) FROM catalog_zones
        UNION SELECT lower(name) FROM catalog_zones
        UNION SELECT unnest(ARRAY['UTC+5', 'UTC0', 'GMT+1', 'EST5', 'EST5EDT4', 'CET-1CEST', 'JST-9',
                                  'FOO+167BAR-167', 'A+1', 'Europe/Berlin+1', 'Etc/Foo+3'])) v(n);
SELECT 'ZONES', count(*), count(*) FILTER (WHERE expected), count(*) FILTER (WHERE p_ok <> expected),
       count(*) FILTER (WHERE c_ok <> expected) FROM zone_names;
SELECT 'ZONEMISMATCH', n, expected, p_ok, c_ok FROM zone_names WHERE p_ok <> expected OR c_ok <> expected ORDER BY n LIMIT 20;
-- dispatch: rota.cron_next must call the C function when the extension is installed
SET track_functions = 'all';
BEGIN;
SELECT 'DISPATCH', count(*) FILTER (WHERE pg_temp.try(2, cron, after, tz) IS DISTINCT FROM c)
  FROM (SELECT * FROM answers WHERE c NOT LIKE 'ERROR%' ORDER BY id LIMIT 50) a;
SELECT 'DISPATCHCALLS', coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE schemaname = 'rota' AND funcname = 'cron_next_c';
SELECT 'DISPATCHPLPGSQL', coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE schemaname = 'rota' AND funcname = '_cron_next_plpgsql';
COMMIT;
"""
    r = subprocess.run(["psql", "-X", "-q", "-d", url], input=sql, text=True, capture_output=True)
    os.unlink(path)
    if r.returncode != 0:
        print(r.stdout)
        print(r.stderr, file=sys.stderr)
        print("differential: psql failed", file=sys.stderr)
        return 1
    total = mism = notafter = other = 0
    chain_mism = 0
    zone_bad = -1
    dispatch_c = dispatch_p = -1
    dispatch_mism = -1
    print("%-8s %7s %9s %7s %7s %7s %6s" % ("kind", "cases", "mismatch", "RO012", "RO013", "NULL", "other"))
    for line in r.stdout.splitlines():
        parts = line.split("|")
        tag = parts[0]
        if tag == "COUNT":
            _, kind, cnt, mm, e12, e13, eo, nul, na = parts
            total += int(cnt)
            mism += int(mm)
            other += int(eo)
            notafter += int(na)
            print("%-8s %7s %9s %7s %7s %7s %6s" % (kind, cnt, mm, e12, e13, nul, eo))
        elif tag == "CHAIN":
            print("chains: %s successive fires compared, %s mismatches" % (parts[1], parts[2]))
            chain_mism = int(parts[2])
        elif tag == "ZONES":
            print("zones: %s names tried (%s in pg_timezone_names and accepted), %s wrong answers in PL/pgSQL,"
                  " %s in C" % tuple(parts[1:5]))
            zone_bad = int(parts[3]) + int(parts[4])
        elif tag == "DISPATCH":
            dispatch_mism = int(parts[1])
        elif tag == "DISPATCHCALLS":
            dispatch_c = int(parts[1])
        elif tag == "DISPATCHPLPGSQL":
            dispatch_p = int(parts[1])
        elif tag in ("MISMATCH", "NOTAFTER", "OTHERERR", "ZONEMISMATCH"):
            print(line)
    print("total: %d cases, %d mismatches, %d answers not after their instant, %d unexpected errors"
          % (total, mism, notafter, other))
    print("dispatch: 50 calls of rota.cron_next made %d calls to rota.cron_next_c and %d to the PL/pgSQL version,"
          " %d answers differ" % (dispatch_c, dispatch_p, dispatch_mism))
    ok_oracle = oracle_check(url, trans)
    ok = ok_oracle and total > 0 and mism == 0 and notafter == 0 and other == 0 and chain_mism == 0 \
        and zone_bad == 0 and dispatch_c == 50 and dispatch_p == 0 and dispatch_mism == 0
    print("differential: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def oracle_check(url, trans):
    """Compares rota.cron_next (whichever implementation) with the brute-force oracle."""
    cases = []
    for _ in range(max(1, int(600 * SCALE))):
        z = rng.choice([z for z in trans if trans[z]])
        t = rng.choice(trans[z]) + dt.timedelta(minutes=rng.randint(-300, 300))
        while True:
            e = expression(dst_hours=True)
            if rng.random() < 0.2:
                e = rng.choice(["*/15 * * * *", "30 2 * * *", "0 * * * *", "*/7 1-3 * * *", "45 1 * * *", "0,30 0-4 * * *"])
            if py_parse(e) is None:
                continue
            try:
                want = oracle(e, t, z)
            except (ValueError, KeyError):
                continue
            if want is not None:
                break
        cases.append((e, t, z, want))
    values = ",\n".join("(%d, %s, '%s', '%s')" % (i, "'" + e.replace("'", "''") + "'", fmt(t), z)
                         for i, (e, t, z, _) in enumerate(cases))
    sql = ("SET TimeZone = 'UTC';\n\\pset format unaligned\n\\pset tuples_only on\n"
           "SELECT i, to_char(rota.cron_next(e, a::timestamptz, z), 'YYYY-MM-DD HH24:MI:SS') FROM (VALUES %s) v(i, e, a, z) ORDER BY i;\n" % values)
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url], input=sql, text=True, capture_output=True)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return False
    bad = 0
    for line in r.stdout.splitlines():
        i, got = line.split("|")
        e, t, z, want = cases[int(i)]
        if got != want.strftime("%Y-%m-%d %H:%M:%S"):
            bad += 1
            if bad <= 10:
                print("ORACLE|%s|%s|%s|got %s|want %s" % (e, fmt(t), z, got, want))
    print("oracle: %d cases near DST transitions checked against a brute-force model, %d disagree" % (len(cases), bad))
    return bad == 0


if __name__ == "__main__":
    sys.exit(main())
