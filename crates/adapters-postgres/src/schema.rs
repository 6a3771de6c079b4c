// @generated automatically from the migrations by schema_gen.
// Regenerate with `UPDATE_SCHEMA=1 cargo test -p adapters-postgres --test schema`.

diesel::table! {
    audit_logs (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 255]
        action -> Varchar,
        #[max_length = 255]
        resource -> Varchar,
        resource_id -> Nullable<Uuid>,
        #[max_length = 50]
        decision -> Varchar,
        reason -> Nullable<Text>,
        ip_address -> Nullable<Inet>,
        user_agent -> Nullable<Text>,
        #[max_length = 255]
        request_id -> Nullable<Varchar>,
        timestamp -> Nullable<Timestamp>,
        created_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        #[max_length = 16]
        request_method -> Nullable<Varchar>,
        request_path -> Nullable<Text>,
        context -> Nullable<Jsonb>,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        request_fingerprint -> Nullable<Text>,
        status_code -> Int4,
        response -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    permissions (id) {
        id -> Uuid,
        #[max_length = 255]
        resource -> Varchar,
        #[max_length = 255]
        action -> Varchar,
        #[max_length = 255]
        scope -> Nullable<Varchar>,
        conditions -> Nullable<Jsonb>,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    resource_attributes (id) {
        id -> Uuid,
        #[max_length = 255]
        resource_type -> Varchar,
        resource_id -> Uuid,
        #[max_length = 255]
        key -> Varchar,
        #[max_length = 255]
        value -> Varchar,
        #[max_length = 50]
        data_type -> Nullable<Varchar>,
        #[max_length = 50]
        source -> Nullable<Varchar>,
        created_at -> Nullable<Timestamp>,
        updated_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Uuid,
        user_id -> Nullable<Uuid>,
        expires_at -> Timestamptz,
        revoked_at -> Timestamptz,
    }
}

diesel::table! {
    role_permissions (role_id, permission_id) {
        role_id -> Uuid,
        permission_id -> Uuid,
        granted_by -> Nullable<Uuid>,
        granted_at -> Nullable<Timestamp>,
        created_at -> Nullable<Timestamp>,
        updated_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roles (id) {
        id -> Uuid,
        #[max_length = 255]
        name -> Varchar,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 255]
        title -> Varchar,
        description -> Nullable<Text>,
        #[max_length = 50]
        status -> Varchar,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        #[max_length = 20]
        priority -> Varchar,
        due_date -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tokens (id) {
        id -> Uuid,
        user_id -> Nullable<Uuid>,
        jti -> Uuid,
        refresh_token -> Text,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        family_id -> Nullable<Uuid>,
        replaced_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    user_attributes (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 255]
        key -> Varchar,
        #[max_length = 255]
        value -> Varchar,
        #[max_length = 50]
        data_type -> Nullable<Varchar>,
        created_at -> Nullable<Timestamp>,
        updated_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> Uuid,
        role_id -> Uuid,
        assigned_by -> Nullable<Uuid>,
        assigned_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        created_at -> Nullable<Timestamp>,
        updated_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_token_revocations (user_id) {
        user_id -> Uuid,
        revoked_before -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        #[max_length = 255]
        username -> Varchar,
        #[max_length = 255]
        email -> Varchar,
        #[max_length = 255]
        password -> Varchar,
        #[max_length = 255]
        first_name -> Nullable<Varchar>,
        #[max_length = 255]
        last_name -> Nullable<Varchar>,
        #[max_length = 255]
        department -> Nullable<Varchar>,
        #[max_length = 255]
        position -> Nullable<Varchar>,
        is_active -> Nullable<Bool>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(audit_logs -> users (user_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(revoked_access_tokens -> users (user_id));
diesel::joinable!(role_permissions -> permissions (permission_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(role_permissions -> users (granted_by));
diesel::joinable!(tasks -> users (user_id));
diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(user_attributes -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(user_token_revocations -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_logs,
    idempotency_keys,
    permissions,
    resource_attributes,
    revoked_access_tokens,
    role_permissions,
    roles,
    tasks,
    tokens,
    user_attributes,
    user_roles,
    user_token_revocations,
    users,
);
