//! `compare-faces`: the selfie against the faces the user has stored (the newest, up to the per-user cap); the
//! best similarity decides. An unknown UserId is a user without faces: nothing here tells the caller whether
//! the UserId exists.

use super::pictures;
use super::{guard, image_error};
use crate::ports::{FaceEngine, FaceRecords, ImageStore, Picture, ServiceErrorKind};
use crate::HandlerError;
use riv_domain::config::{GuardConfig, MatchConfig};
use riv_domain::events::{CompareFacesRequest, CompareFacesResult};
use riv_domain::uploads::Slot;
use riv_domain::validate;
use std::sync::Arc;

/// Stored faces compared at once: enough to hide latency, few enough not to trip Rekognition's TPS limit.
const PARALLEL_COMPARISONS: usize = 4;

pub struct CompareFaces {
    pub faces: Arc<dyn FaceEngine>,
    pub images: Arc<dyn ImageStore>,
    pub records: Arc<dyn FaceRecords>,
    pub matching: MatchConfig,
    pub guard: GuardConfig,
    /// Faces compared at most: the per-user cap bounds the work one request can cause.
    pub max_faces: usize,
}

impl CompareFaces {
    pub async fn handle(
        &self,
        request: CompareFacesRequest,
    ) -> Result<CompareFacesResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?;
        let selfie = pictures::resolve(Slot::Selfie, &request.image, self.images.bucket())?.picture;
        // A claim of a registration still in progress is not a user yet; neither is an unknown UserId. Both
        // have no faces to compare, and end where a wrong face ends.
        let profile = self.records.profile(user_id).await?;
        let mut stored = if profile.is_some_and(|p| p.is_active()) {
            self.records.faces(user_id).await?
        } else {
            Vec::new()
        };
        stored.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        stored.truncate(self.max_faces);

        let mut best: Option<(f32, String)> = None;
        for chunk in stored.chunks(PARALLEL_COMPARISONS) {
            let scores = futures::future::join_all(chunk.iter().map(|record| async {
                let target = match self.images.get(&record.image.key).await {
                    Ok(bytes) => Picture::Bytes(bytes),
                    // A face whose image is gone cannot vouch for anyone; the others still can.
                    Err(e) if e.kind == ServiceErrorKind::NotFound => {
                        tracing::warn!(face_id = %record.face.face_id, "stored image missing");
                        return Ok(None);
                    }
                    Err(e) => return Err(HandlerError::from(e)),
                };
                let comparison = self
                    .faces
                    .compare_faces(&selfie, &target)
                    .await
                    .map_err(|e| image_error(e, "Image"))?;
                Ok(comparison.map(|c| (c.similarity, record.face.face_id.clone())))
            }))
            .await;
            for score in scores {
                if let Some((similarity, face_id)) = score? {
                    if best.as_ref().is_none_or(|(b, _)| similarity > *b) {
                        best = Some((similarity, face_id));
                    }
                }
            }
        }

        let (similarity, face_id) = best.map_or((0.0, None), |(s, f)| (s, Some(f)));
        let matched = similarity >= self.matching.face_match_threshold;
        tracing::info!(
            compared = stored.len(),
            similarity,
            matched,
            "compared with stored faces"
        );
        if matched {
            guard::succeeded(&*self.records, user_id).await?;
        }
        Ok(CompareFacesResult {
            matched,
            similarity,
            face_id: face_id.filter(|_| matched),
            deny_at: guard::deny_at(request.started_at.as_deref(), self.guard.denial_floor_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        active_profile, inline, photo, written_face, FakeFaces, FakeRecords, FakeStore,
        SAME_PERSON, STRANGER,
    };
    use crate::ports::FaceRecord;
    use riv_domain::attempt::ProfileStatus;
    use riv_domain::events::WrittenObject;
    use riv_domain::guard::Counter;
    use riv_domain::Reason;

    struct World {
        faces: Arc<FakeFaces>,
        images: Arc<FakeStore>,
        records: Arc<FakeRecords>,
        handler: CompareFaces,
    }

    fn world() -> World {
        let faces = Arc::new(FakeFaces::default());
        let images = Arc::new(FakeStore::default());
        let records = Arc::new(FakeRecords::default());
        let handler = CompareFaces {
            faces: faces.clone(),
            images: images.clone(),
            records: records.clone(),
            matching: MatchConfig::default(),
            guard: GuardConfig {
                denial_floor_ms: 0,
                ..GuardConfig::default()
            },
            max_faces: 5,
        };
        World {
            faces,
            images,
            records,
            handler,
        }
    }

    impl World {
        async fn register(&self, user: &str, shots: &[&str]) {
            self.records.insert_profile(active_profile(user));
            for (i, shot) in shots.iter().enumerate() {
                let key = format!("faces/{user}/f{i}.png");
                self.images
                    .put(&key, photo(shot), "image/png")
                    .await
                    .unwrap();
                self.records.insert_face(FaceRecord {
                    user_id: user.into(),
                    face: written_face("riv-1", &format!("f{i}")),
                    image: WrittenObject {
                        key,
                        version_id: None,
                    },
                    attempt_id: "a".into(),
                    created_at: format!("2026-12-01T00:00:0{i}Z"),
                });
            }
        }
    }

    fn request(user: &str, identity: &str) -> CompareFacesRequest {
        CompareFacesRequest {
            user_id: user.into(),
            image: inline(identity),
            started_at: None,
        }
    }

    #[tokio::test]
    async fn the_best_of_all_stored_faces_decides() {
        let w = world();
        // Only the last of five stored faces is really ann: a comparison with a random one would fail.
        w.register("ann", &["x1", "x2", "x3", "x4", "ann#old"])
            .await;
        let r = w.handler.handle(request("ann", "ann#new")).await.unwrap();
        assert!(r.matched);
        assert_eq!(r.similarity, SAME_PERSON);
        assert_eq!(r.face_id.as_deref(), Some("f4"));
    }

    #[tokio::test]
    async fn a_stranger_is_reported_with_the_time_a_denial_is_due() {
        let w = world();
        w.register("ann", &["ann"]).await;
        let r = w.handler.handle(request("ann", "mallory")).await.unwrap();
        assert_eq!(
            (r.matched, r.similarity, r.face_id),
            (false, STRANGER, None)
        );
        assert!(riv_domain::clock::parse_rfc3339_ms(&r.deny_at).is_some());
    }

    #[tokio::test]
    async fn an_unknown_user_is_a_user_without_faces() {
        let w = world();
        w.register("ann", &["ann"]).await;
        let r = w.handler.handle(request("ghost", "ghost")).await.unwrap();
        assert_eq!((r.matched, r.similarity, r.face_id), (false, 0.0, None));
        assert_eq!(w.faces.calls("CompareFaces"), 0);
    }

    #[tokio::test]
    async fn a_registration_in_progress_is_not_a_user() {
        let w = world();
        w.records.insert_profile(crate::ports::Profile {
            status: ProfileStatus::Pending,
            ..active_profile("ann")
        });
        let r = w.handler.handle(request("ann", "ann")).await.unwrap();
        assert!(!r.matched);
    }

    #[tokio::test]
    async fn a_match_clears_the_lockout_counter_and_a_mismatch_does_not() {
        let w = world();
        w.register("ann", &["ann"]).await;
        let counter = Counter {
            attempts: 3,
            window_ends_at_ms: u64::MAX,
        };
        w.records
            .store_guard_counter("ann", &counter, None)
            .await
            .unwrap();
        w.handler.handle(request("ann", "mallory")).await.unwrap();
        assert_eq!(w.records.counter("ann"), Some(counter));
        w.handler.handle(request("ann", "ann#2")).await.unwrap();
        assert_eq!(w.records.counter("ann"), None);
    }

    #[tokio::test]
    async fn only_the_newest_faces_up_to_the_cap_are_compared() {
        let w = world();
        // Seven faces, the oldest two of them ann's: beyond a cap of five, they are not looked at.
        w.register("ann", &["ann#1", "ann#2", "x3", "x4", "x5", "x6", "x7"])
            .await;
        let r = w.handler.handle(request("ann", "ann#new")).await.unwrap();
        assert!(!r.matched);
        assert_eq!(w.faces.calls("CompareFaces"), 5);
    }

    #[tokio::test]
    async fn a_missing_stored_image_is_skipped() {
        let w = world();
        w.register("ann", &["ann", "ann#2"]).await;
        w.images
            .delete(&WrittenObject {
                key: "faces/ann/f0.png".into(),
                version_id: None,
            })
            .await
            .unwrap();
        let r = w.handler.handle(request("ann", "ann#3")).await.unwrap();
        assert_eq!(r.face_id.as_deref(), Some("f1"));
    }

    #[tokio::test]
    async fn a_user_without_faces_does_not_match() {
        let w = world();
        w.register("ann", &[]).await;
        let r = w.handler.handle(request("ann", "ann")).await.unwrap();
        assert!(!r.matched);
        assert_eq!(r.similarity, 0.0);
    }

    #[tokio::test]
    async fn failures_map_to_reasons() {
        let w = world();
        w.register("ann", &["ann"]).await;
        let err = w
            .handler
            .handle(request("ann", "nobody"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::NoFaceDetected);
        w.faces.faults.fail("CompareFaces");
        let err = w.handler.handle(request("ann", "ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        w.faces.faults.heal("CompareFaces");
        w.images.faults.fail("GetObject");
        let err = w.handler.handle(request("ann", "ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }
}
