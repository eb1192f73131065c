-- The built-in local owner (turbocat_core.domain.user.LOCAL_OWNER_ID): embedded runs belong
-- to it, so foreign keys hold with no account made by hand. Inactive, with a password hash
-- that matches nothing ('!' is no bcrypt hash): it cannot log in. Idempotent.
INSERT INTO users (
    id, created_at, updated_at, email, password_hash, full_name, avatar_url, role,
    is_active, email_verified, preferences, last_login_at, deleted_at
) VALUES (
    '00000000-0000-0000-0000-000000000001',
    '1970-01-01T00:00:00.000000+00:00', '1970-01-01T00:00:00.000000+00:00',
    'local@turbocat.invalid', '!', 'Local owner', NULL, 'USER', 0, 0, '{}', NULL, NULL
) ON CONFLICT DO NOTHING;
