-- 0005 roles and lease tokens: least privilege (the roles the privileges in
-- sql/code/99_privileges.sql are granted to) and finishing a task bound to its claim.
--
-- Roles are cluster-wide, so they may exist already (another database of the cluster, or
-- created by an administrator beforehand): each is created only when missing. Creating
-- them needs CREATEROLE (or superuser); without it the install stops with RO092 naming
-- what is missing.
SELECT rota._migrate(5, 'roles_tokens', $migration$

DO $roles$
DECLARE
    -- role, and the roles it is a member of
    c_roles constant text[][] := ARRAY[
        ['rota_owner',    NULL],
        ['rota_producer', NULL],
        ['rota_worker',   NULL],
        ['rota_reader',   NULL],
        ['rota_admin',    'rota_owner,rota_producer,rota_worker,rota_reader']];
    v_can_create boolean;
    v_owns boolean;
    v_missing text[];
    v_missing_memberships text[];
BEGIN
    SELECT r.rolsuper OR r.rolcreaterole INTO v_can_create FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
    SELECT array_agg(c_roles[i][1] ORDER BY i) INTO v_missing
    FROM generate_series(1, array_length(c_roles, 1)) AS i
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = c_roles[i][1]);
    SELECT array_agg(m.role || ' in ' || m.parent ORDER BY m.role, m.parent) INTO v_missing_memberships
    FROM (SELECT c_roles[i][1] AS role, p AS parent
          FROM generate_series(1, array_length(c_roles, 1)) AS i,
               unnest(string_to_array(c_roles[i][2], ',')) AS p) AS m
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members a
                      JOIN pg_catalog.pg_roles r ON r.oid = a.member AND r.rolname = m.role
                      JOIN pg_catalog.pg_roles g ON g.oid = a.roleid AND g.rolname = m.parent);
    -- The installer hands every object to rota_owner (sql/code/99_privileges.sql), which
    -- needs membership in it (a superuser has it): a role that installs becomes rota_admin.
    v_owns := CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'rota_owner')
                   THEN pg_catalog.pg_has_role(current_user, 'rota_owner', 'MEMBER')
                   ELSE (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) END;
    IF NOT v_owns THEN
        v_missing_memberships := v_missing_memberships || (current_user || ' in rota_admin');
    END IF;
    IF v_missing_memberships IS NOT NULL AND NOT v_can_create THEN
        RAISE EXCEPTION 'rota: installing needs the CREATEROLE privilege, which role % lacks, to create the roles % and the memberships %',
            current_user, coalesce(array_to_string(v_missing, ', '), '(none)'),
            coalesce(array_to_string(v_missing_memberships, ', '), '(none)')
            USING ERRCODE = 'RO092',
                  HINT = 'Install as a superuser or a role WITH CREATEROLE, or have an administrator create the roles '
                         'rota_owner, rota_producer, rota_worker, rota_reader, rota_admin (NOLOGIN; rota_admin a member of the other four) '
                         'and GRANT rota_admin TO the installing role first.';
    END IF;
    FOR i IN 1..array_length(c_roles, 1) LOOP
        -- another database of the cluster may be installing at the same time
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = c_roles[i][1]) THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', c_roles[i][1]);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
    FOR i IN 1..coalesce(array_length(v_missing_memberships, 1), 0) LOOP
        EXECUTE format('GRANT %I TO %I', split_part(v_missing_memberships[i], ' in ', 2),
                       split_part(v_missing_memberships[i], ' in ', 1));
    END LOOP;
END;
$roles$;

-- The lease token: an unguessable proof of the claim, handed out by rota.claim and
-- required to complete, fail, renew or checkpoint the task. Not indexed (heartbeats stay
-- HOT updates). Tasks running under an older release get one now; their old process
-- cannot present it, so they are recovered by rota.reap when their lease runs out.
ALTER TABLE rota.tasks ADD COLUMN lease_token uuid;
UPDATE rota.tasks SET lease_token = gen_random_uuid() WHERE state = 'running';
ALTER TABLE rota.tasks ADD CONSTRAINT tasks_lease_token_iff_running
    CHECK ((state = 'running') = (lease_token IS NOT NULL));

-- Who enqueued a task (the session's login role: the functions run as rota_owner), so that
-- a producer sees and cancels its own tasks only. NULL for tasks enqueued before.
ALTER TABLE rota.tasks ADD COLUMN enqueued_by name;
ALTER TABLE rota.tasks ALTER COLUMN enqueued_by SET DEFAULT session_user;

$migration$);
