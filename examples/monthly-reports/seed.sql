-- Seeds the monthly reports example: :tenants tenants (default 50), each with 20 to 119
-- orders spread over the three months before the current one and the current month so far.
-- Replaces earlier example data. Reproducible apart from the dates (they follow now()).
--   psql -v ON_ERROR_STOP=1 -d "$DATABASE_URL" [-v tenants=50] -f examples/monthly-reports/seed.sql

\if :{?tenants}
\else
\set tenants 50
\endif

BEGIN;

TRUNCATE rota_examples.reports, rota_examples.orders, rota_examples.tenants RESTART IDENTITY;

SELECT setseed(0.2026) AS seeded \gset

INSERT INTO rota_examples.tenants (id, name)
SELECT g, format('Tenant %s', g) FROM generate_series(1, :tenants) AS g;

INSERT INTO rota_examples.orders (tenant_id, amount, created_at)
SELECT t.id,
       round((5 + random() * 495)::numeric, 2),
       w.window_start + random() * (now() - w.window_start)
FROM rota_examples.tenants t
CROSS JOIN LATERAL generate_series(1, 20 + (t.id * 37) % 100) AS n
CROSS JOIN (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '3 months') AT TIME ZONE 'UTC'
                   AS window_start) AS w
ORDER BY t.id, n;

COMMIT;

SELECT count(*) AS tenants, (SELECT count(*) FROM rota_examples.orders) AS orders
FROM rota_examples.tenants;
