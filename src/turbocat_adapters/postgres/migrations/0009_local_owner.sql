-- The built-in local owner (turbocat_core.domain.user.LOCAL_OWNER_ID): embedded runs belong
-- to it, so foreign keys hold with no account made by hand. Inactive, with a password hash
-- that matches nothing ('!' is no bcrypt hash): it cannot log in. Idempotent.
INSERT INTO users (
    id, email, password_hash, full_name, role, is_active, email_verified, preferences,
    created_at, updated_at
) VALUES (
    '00000000-0000-0000-0000-000000000001', 'local@turbocat.invalid', '!', 'Local owner',
    'USER', false, false, '{}', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'
) ON CONFLICT DO NOTHING;
