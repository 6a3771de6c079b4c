-- Legacy baseline: the schema (and seed data) that existing databases reached with the
-- legacy migrations 0 to 12 (contract section 12.1 and 12.2). Databases that already carry
-- it (legacy `schema_migrations` at version 12, clean) are adopted without running this file.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username varchar(255) NOT NULL,
    email varchar(255) NOT NULL UNIQUE,
    password varchar(255) NOT NULL,
    first_name varchar(255),
    last_name varchar(255),
    department varchar(255),
    "position" varchar(255),
    is_active boolean DEFAULT true,
    last_login_at timestamp without time zone,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE roles (
    id uuid PRIMARY KEY,
    name varchar(255) NOT NULL UNIQUE,
    description text
);

CREATE TABLE permissions (
    id uuid PRIMARY KEY,
    resource varchar(255) NOT NULL,
    action varchar(255) NOT NULL,
    scope varchar(255) DEFAULT '*',
    conditions jsonb,
    description text
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    assigned_by uuid REFERENCES users (id),
    assigned_at timestamp DEFAULT now(),
    expires_at timestamp,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    deleted_at timestamp,
    PRIMARY KEY (user_id, role_id)
);
CREATE UNIQUE INDEX idx_user_roles_active ON user_roles (user_id, role_id) WHERE deleted_at IS NULL;

CREATE TABLE role_permissions (
    role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id uuid NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    granted_by uuid REFERENCES users (id),
    granted_at timestamp DEFAULT now(),
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    deleted_at timestamp,
    PRIMARY KEY (role_id, permission_id)
);
CREATE UNIQUE INDEX idx_role_permissions_active ON role_permissions (role_id, permission_id)
    WHERE deleted_at IS NULL;

CREATE TABLE user_attributes (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key varchar(255) NOT NULL,
    value varchar(255) NOT NULL,
    data_type varchar(50) DEFAULT 'string',
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    deleted_at timestamp,
    expires_at timestamp,
    UNIQUE (user_id, key)
);
CREATE INDEX idx_user_attributes_user_id ON user_attributes (user_id);
CREATE INDEX idx_user_attributes_key ON user_attributes (key);
CREATE INDEX idx_user_attributes_expires_at ON user_attributes (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE TABLE resource_attributes (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    resource_type varchar(255) NOT NULL,
    resource_id uuid NOT NULL,
    key varchar(255) NOT NULL,
    value varchar(255) NOT NULL,
    data_type varchar(50) DEFAULT 'string',
    source varchar(50) DEFAULT 'system',
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    deleted_at timestamp,
    expires_at timestamp,
    UNIQUE (resource_type, resource_id, key)
);
CREATE INDEX idx_resource_attributes_resource ON resource_attributes (resource_type, resource_id);
CREATE INDEX idx_resource_attributes_type ON resource_attributes (resource_type);
CREATE INDEX idx_resource_attributes_expires_at ON resource_attributes (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE TABLE audit_logs (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id uuid NOT NULL REFERENCES users (id),
    action varchar(255) NOT NULL,
    resource varchar(255) NOT NULL,
    resource_id uuid,
    decision varchar(50) NOT NULL CHECK (decision IN ('allowed', 'denied')),
    reason text,
    ip_address inet,
    user_agent text,
    request_id varchar(255),
    "timestamp" timestamp DEFAULT now(),
    created_at timestamp DEFAULT now(),
    deleted_at timestamp
);
CREATE INDEX idx_audit_logs_user_id ON audit_logs (user_id);
CREATE INDEX idx_audit_logs_resource ON audit_logs (resource);
CREATE INDEX idx_audit_logs_timestamp ON audit_logs ("timestamp");
CREATE INDEX idx_audit_logs_decision ON audit_logs (decision);

CREATE TABLE tasks (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title varchar(255) NOT NULL,
    description text,
    status varchar(50) NOT NULL DEFAULT 'pending',
    created_at timestamp without time zone NOT NULL DEFAULT timezone('utc', now()),
    updated_at timestamp without time zone NOT NULL DEFAULT timezone('utc', now())
);

CREATE TABLE tokens (
    id uuid PRIMARY KEY,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    jti uuid NOT NULL UNIQUE,
    refresh_token text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- Seed data (section 12.2). The ids are relied on by operators and must never change.

INSERT INTO roles (id, name, description) VALUES
    ('00000000-0000-0000-0000-000000000001', 'user', 'Standard user'),
    ('00000000-0000-0000-0000-000000000002', 'admin', 'Administrator');

INSERT INTO permissions (id, resource, action, scope, description) VALUES
    ('10000000-0000-0000-0000-000000000001', 'profile', 'read', 'own', 'Read own profile'),
    ('10000000-0000-0000-0000-000000000002', 'profile', 'update', 'own', 'Update own profile'),
    ('10000000-0000-0000-0000-000000000003', 'profile', 'read', 'all', 'Read any profile'),
    ('10000000-0000-0000-0000-000000000004', 'profile', 'update', 'all', 'Update any profile'),
    ('10000000-0000-0000-0000-000000000005', 'profile', 'delete', 'all', 'Delete any profile'),
    ('10000000-0000-0000-0000-000000000011', 'user', 'read', 'all', 'List all users'),
    ('10000000-0000-0000-0000-000000000012', 'user', 'create', 'all', 'Create new users'),
    ('10000000-0000-0000-0000-000000000013', 'user', 'update', 'all', 'Update any user'),
    ('10000000-0000-0000-0000-000000000014', 'user', 'delete', 'all', 'Delete any user'),
    ('10000000-0000-0000-0000-000000000015', 'user', 'assign_role', 'all', 'Assign roles to users'),
    ('10000000-0000-0000-0000-000000000016', 'user', 'revoke_role', 'all', 'Revoke roles from users'),
    ('10000000-0000-0000-0000-000000000021', 'task', 'create', 'own', 'Create own tasks'),
    ('10000000-0000-0000-0000-000000000022', 'task', 'read', 'own', 'Read own tasks'),
    ('10000000-0000-0000-0000-000000000023', 'task', 'update', 'own', 'Update own tasks'),
    ('10000000-0000-0000-0000-000000000024', 'task', 'delete', 'own', 'Delete own tasks'),
    ('10000000-0000-0000-0000-000000000025', 'task', 'read', 'all', 'Read all tasks'),
    ('10000000-0000-0000-0000-000000000026', 'task', 'update', 'all', 'Update any task'),
    ('10000000-0000-0000-0000-000000000027', 'task', 'delete', 'all', 'Delete any task'),
    ('10000000-0000-0000-0000-000000000028', 'task', 'assign', 'all', 'Assign tasks to users'),
    ('10000000-0000-0000-0000-000000000029', 'task', 'read', 'department', 'Read department tasks'),
    ('10000000-0000-0000-0000-000000000031', 'system', 'admin', 'all', 'Full system administration'),
    ('10000000-0000-0000-0000-000000000032', 'audit', 'read', 'all', 'Read audit logs'),
    ('10000000-0000-0000-0000-000000000033', 'role', 'manage', 'all', 'Manage roles and permissions');

-- Users first: admin_user (...0010) is referenced as granted_by / assigned_by below.
-- The two `admin` passwords are bcrypt hashes of "admin" (8-character login rule keeps them
-- unusable through the API, D-33); john_user's stored value is deliberately not a hash.
INSERT INTO users (id, username, email, password, is_active) VALUES
    ('bd006d41-aded-4040-9934-2ba4e909ef9a', 'admin', 'admin@gmail.com',
     '$2b$10$S6oOkaQNUIXejP/xJs6fdeHGTQPH4ERoD5wwn1G3UwRlHS8Dwq8v2', true),
    ('00000000-0000-0000-0000-000000000010', 'admin_user', 'admin@example.com',
     '$2b$10$S6oOkaQNUIXejP/xJs6fdeHGTQPH4ERoD5wwn1G3UwRlHS8Dwq8v2', true);
INSERT INTO users (id, username, email, password, first_name, last_name, department, "position", is_active)
VALUES
    ('20000000-0000-0000-0000-000000000001', 'john_user', 'john@example.com',
     'not-a-bcrypt-hash', 'John', 'Doe', 'Engineering', 'Developer', true);

INSERT INTO role_permissions (role_id, permission_id, granted_by)
SELECT '00000000-0000-0000-0000-000000000001'::uuid, p.id, '00000000-0000-0000-0000-000000000010'::uuid
FROM permissions p
WHERE p.id IN (
    '10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000002',
    '10000000-0000-0000-0000-000000000021', '10000000-0000-0000-0000-000000000022',
    '10000000-0000-0000-0000-000000000023', '10000000-0000-0000-0000-000000000024'
);
INSERT INTO role_permissions (role_id, permission_id, granted_by)
SELECT '00000000-0000-0000-0000-000000000002'::uuid, p.id, '00000000-0000-0000-0000-000000000010'::uuid
FROM permissions p;

INSERT INTO user_roles (user_id, role_id, assigned_by) VALUES
    ('00000000-0000-0000-0000-000000000010', '00000000-0000-0000-0000-000000000002', NULL),
    ('20000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001',
     '00000000-0000-0000-0000-000000000010');

INSERT INTO user_attributes (user_id, key, value, data_type) VALUES
    ('20000000-0000-0000-0000-000000000001', 'department', 'Engineering', 'string'),
    ('20000000-0000-0000-0000-000000000001', 'clearance_level', '2', 'number'),
    ('20000000-0000-0000-0000-000000000001', 'location', 'US-West', 'string'),
    ('00000000-0000-0000-0000-000000000010', 'department', 'Administration', 'string'),
    ('00000000-0000-0000-0000-000000000010', 'clearance_level', '5', 'number'),
    ('00000000-0000-0000-0000-000000000010', 'location', 'US-East', 'string');
