-- Reverses the legacy baseline: every table (with its seed rows) and the extension.
DROP TABLE tokens;
DROP TABLE tasks;
DROP TABLE audit_logs;
DROP TABLE resource_attributes;
DROP TABLE user_attributes;
DROP TABLE role_permissions;
DROP TABLE user_roles;
DROP TABLE permissions;
DROP TABLE roles;
DROP TABLE users;
DROP EXTENSION IF EXISTS "uuid-ossp";
