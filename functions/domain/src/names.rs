//! One source of truth for names: functions, environment variables, table keys, object prefixes and routes.
//! `functions/`, `infra/` and `e2e/` all spell these through this module.

/// The Lambda functions, by the name their binary, artifact and CloudFormation resource derive from.
pub mod function {
    pub const DETECT_FACES: &str = "detect-faces";
    pub const SEARCH_FACES: &str = "search-faces";
    pub const COMPARE_FACES: &str = "compare-faces";
    pub const COMPARE_IDCARD: &str = "compare-idcard";
    pub const EXTRACT_IDCARD: &str = "extract-idcard";
    pub const INDEX_FACE: &str = "index-face";
    pub const ROLLBACK: &str = "rollback";
    pub const UPLOADS: &str = "uploads";
    /// Bench stacks only: returns its input, the floor the flows' figures are read against.
    pub const ECHO: &str = "echo";

    /// Every function, in the order the flows first use them.
    pub const ALL: [&str; 8] = [
        DETECT_FACES,
        SEARCH_FACES,
        COMPARE_FACES,
        COMPARE_IDCARD,
        EXTRACT_IDCARD,
        INDEX_FACE,
        ROLLBACK,
        UPLOADS,
    ];
}

/// Environment variables the functions read. Defaults are in [`crate::config`].
pub mod env {
    /// Which function the shared `bootstrap` serves: one of [`super::function::ALL`] (or `echo`).
    pub const FUNCTION: &str = "RIV_FUNCTION";
    pub const TABLE_NAME: &str = "RIV_TABLE_NAME";
    pub const BUCKET_NAME: &str = "RIV_BUCKET_NAME";
    pub const COLLECTION_PREFIX: &str = "RIV_COLLECTION_PREFIX";
    pub const COLLECTION_COUNT: &str = "RIV_COLLECTION_COUNT";
    pub const FACE_MATCH_THRESHOLD: &str = "RIV_FACE_MATCH_THRESHOLD";
    pub const MIN_CONFIDENCE: &str = "RIV_MIN_CONFIDENCE";
    pub const MAX_POSE: &str = "RIV_MAX_POSE";
    pub const MIN_BRIGHTNESS: &str = "RIV_MIN_BRIGHTNESS";
    pub const MIN_SHARPNESS: &str = "RIV_MIN_SHARPNESS";
    pub const MIN_FACE_AREA: &str = "RIV_MIN_FACE_AREA";
    pub const ID_EXTRACTION: &str = "ID_EXTRACTION";
    pub const MAX_FAILED_ATTEMPTS: &str = "RIV_MAX_FAILED_ATTEMPTS";
    pub const LOCKOUT_SECONDS: &str = "RIV_LOCKOUT_SECONDS";
    pub const DENIAL_FLOOR_MS: &str = "RIV_DENIAL_FLOOR_MS";
    pub const MAX_FACES_PER_USER: &str = "RIV_MAX_FACES_PER_USER";
    /// Tests only: faults to inject, comma-separated (see `riv_lambda::faults`).
    pub const INJECT_FAULT: &str = "RIV_INJECT_FAULT";
}

/// DynamoDB attribute names and key prefixes of the face table.
pub mod table {
    pub const PK: &str = "PK";
    pub const SK: &str = "SK";
    pub const USER_PREFIX: &str = "USER#";
    pub const FACE_PREFIX: &str = "FACE#";
    pub const PROFILE: &str = "PROFILE";

    pub const COLLECTION: &str = "Collection";
    pub const FACE_ID: &str = "FaceId";
    pub const IMAGE_KEY: &str = "ImageKey";
    pub const IMAGE_VERSION: &str = "ImageVersion";
    pub const ID_CARD_KEY: &str = "IdCardKey";
    pub const ID_CARD_VERSION: &str = "IdCardVersion";
    pub const CREATED_AT: &str = "CreatedAt";
    pub const UPDATED_AT: &str = "UpdatedAt";
    pub const PROPERTIES: &str = "Properties";
    pub const STATUS: &str = "Status";
    pub const ATTEMPT_ID: &str = "AttemptId";
    /// Optimistic concurrency of a profile's Properties: every write checks and bumps it.
    pub const VERSION: &str = "Version";
    /// When a pending claim or attempt may be taken over or reconciled (epoch milliseconds).
    pub const EXPIRES_AT_MS: &str = "ExpiresAtMs";
    /// The table's TTL attribute (epoch seconds): set only on finished attempts.
    pub const PURGE_AT: &str = "PurgeAt";

    /// Attempts live in their own partitions: `PK` = `ATTEMPT#<AttemptId>`, `SK` = `ATTEMPT`.
    pub const ATTEMPT_PREFIX: &str = "ATTEMPT#";
    pub const ATTEMPT_SK: &str = "ATTEMPT";
    pub const USER_ID: &str = "UserId";
    pub const MODE: &str = "Mode";
    /// The registration that won against this attempt (set by the winner's commit).
    pub const BEATEN_BY: &str = "BeatenBy";
    /// Faces an update's commit removed to stay within the per-user cap (FaceId list, on the attempt).
    pub const EVICTED: &str = "Evicted";

    /// What was read from the ID card, apart from the caller's Properties (a map), how and when.
    pub const ID_CARD_FIELDS: &str = "IdCardFields";
    pub const ID_CARD_METHOD: &str = "IdCardMethod";
    pub const ID_CARD_READ_AT: &str = "IdCardReadAt";

    /// Failed-attempt counters live in their own partitions, `PK` = `GUARD#<UserId>`, `SK` = `GUARD`, whether
    /// or not the UserId exists, so the lockout tells nobody who is registered.
    pub const GUARD_PREFIX: &str = "GUARD#";
    pub const GUARD_SK: &str = "GUARD";
    pub const ATTEMPTS: &str = "Attempts";
    pub const WINDOW_ENDS_AT_MS: &str = "WindowEndsAtMs";

    /// Partition key value for a user.
    pub fn user_pk(user_id: &str) -> String {
        format!("{USER_PREFIX}{user_id}")
    }

    /// Partition key value for an attempt.
    pub fn attempt_pk(attempt_id: &str) -> String {
        format!("{ATTEMPT_PREFIX}{attempt_id}")
    }

    /// Partition key value for a user's failed-attempt counter.
    pub fn guard_pk(user_id: &str) -> String {
        format!("{GUARD_PREFIX}{user_id}")
    }

    /// Sort key value for one of a user's faces.
    pub fn face_sk(face_id: &str) -> String {
        format!("{FACE_PREFIX}{face_id}")
    }
}

/// Object key layout of the image bucket.
pub mod bucket {
    pub const FACES_PREFIX: &str = "faces/";
    pub const IDCARDS_PREFIX: &str = "idcards/";
    /// Images uploaded through presigned URLs, until a flow takes them (see [`crate::uploads`]).
    pub const UPLOADS_PREFIX: &str = crate::uploads::PREFIX;

    /// `faces/<UserId>/<FaceId>.<ext>`
    pub fn face_key(user_id: &str, face_id: &str, extension: &str) -> String {
        format!("{FACES_PREFIX}{user_id}/{face_id}.{extension}")
    }

    /// `idcards/<UserId>/<id>.<ext>`
    pub fn idcard_key(user_id: &str, id: &str, extension: &str) -> String {
        format!("{IDCARDS_PREFIX}{user_id}/{id}.{extension}")
    }
}

/// API routes (REST API, stage `prod`).
pub mod route {
    pub const REGISTER: &str = "register";
    pub const REGISTER_IDCARD: &str = "register-idcard";
    pub const AUTH: &str = "auth";
    pub const UPDATE: &str = "update";
    /// Presigned upload URLs for images too large for a request body.
    pub const UPLOADS: &str = "uploads";
    /// The four user flows: each takes a selfie (`FlowInput`).
    pub const FLOWS: [&str; 4] = [REGISTER, REGISTER_IDCARD, AUTH, UPDATE];
    /// Every route: the flows and `uploads`, each backed by its own state machine.
    pub const ALL: [&str; 5] = [REGISTER, REGISTER_IDCARD, AUTH, UPDATE, UPLOADS];
    /// Bench stacks only: the `echo` function behind the same API path, the floor of the flows' figures.
    pub const FLOOR: &str = "floor";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        assert_eq!(table::user_pk("ann"), "USER#ann");
        assert_eq!(table::face_sk("f-1"), "FACE#f-1");
        assert_eq!(bucket::face_key("ann", "f-1", "png"), "faces/ann/f-1.png");
        assert_eq!(bucket::idcard_key("ann", "u", "jpg"), "idcards/ann/u.jpg");
    }

    #[test]
    fn function_names_are_unique() {
        let mut names = function::ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), function::ALL.len());
    }
}
