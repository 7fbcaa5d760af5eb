-- The login role of the worker replicas in docker-compose.yml. The postgres image runs this
-- once, as the superuser, when it creates a new data volume; the compose file's `setup`
-- service then grants the role what a replica needs (`rota-examples setup --grant-to rota_app`).
-- 'rota_app' is a demo password, like the superuser's POSTGRES_PASSWORD: choose real ones
-- (and change DATABASE_URL in docker-compose.yml to match) before the database matters.
CREATE ROLE rota_app LOGIN PASSWORD 'rota_app';
