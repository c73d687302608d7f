//! `search-faces`: the duplicate guard of registration (this face must belong to nobody yet, in any
//! collection) and the fallback of authentication (the best match in the user's collection must be theirs).

use super::registration::{live_owner, refuse_duplicates, search, MAX_CANDIDATES};
use super::{guard, pictures};
use crate::ports::{FaceEngine, FaceRecords, Picture};
use crate::HandlerError;
use riv_domain::collections;
use riv_domain::config::{CollectionConfig, GuardConfig, MatchConfig};
use riv_domain::events::{SearchFacesRequest, SearchFacesResult, SearchPurpose};
use riv_domain::uploads::Slot;
use riv_domain::validate;
use std::sync::Arc;

pub struct SearchFaces {
    pub faces: Arc<dyn FaceEngine>,
    pub records: Arc<dyn FaceRecords>,
    pub collections: CollectionConfig,
    pub matching: MatchConfig,
    pub guard: GuardConfig,
    /// The image bucket, where uploads are read from.
    pub bucket: String,
}

impl SearchFaces {
    pub async fn handle(
        &self,
        request: SearchFacesRequest,
    ) -> Result<SearchFacesResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?;
        let image = pictures::resolve(Slot::Selfie, &request.image, &self.bucket)?.picture;
        match request.purpose {
            SearchPurpose::DuplicateGuard => self.duplicate_guard(user_id, &image).await,
            SearchPurpose::Identify => {
                let deny_at =
                    guard::deny_at(request.started_at.as_deref(), self.guard.denial_floor_ms);
                let mut result = self.identify(user_id, &image).await?;
                result.deny_at = Some(deny_at);
                Ok(result)
            }
        }
    }

    async fn duplicate_guard(
        &self,
        user_id: &str,
        image: &Picture,
    ) -> Result<SearchFacesResult, HandlerError> {
        let threshold = self.matching.face_match_threshold;
        refuse_duplicates(
            &*self.faces,
            &*self.records,
            &self.collections,
            threshold,
            user_id,
            image,
        )
        .await?;
        Ok(SearchFacesResult {
            matched: false,
            face_id: None,
            similarity: None,
            deny_at: None,
        })
    }

    /// The best match *that a live record vouches for* decides: the user is verified only if it is theirs. A
    /// face in the collection without a record (left by a crashed attempt, or put there by hand) vouches for
    /// nobody, whatever its ExternalImageId says.
    async fn identify(
        &self,
        user_id: &str,
        image: &Picture,
    ) -> Result<SearchFacesResult, HandlerError> {
        let collection = collections::for_user(&self.collections, user_id);
        let matches = search(
            &*self.faces,
            &collection,
            image,
            self.matching.face_match_threshold,
            MAX_CANDIDATES,
        )
        .await?;
        for candidate in &matches {
            match live_owner(&*self.records, candidate).await? {
                Some(owner) if owner == user_id => {
                    guard::succeeded(&*self.records, user_id).await?;
                    return Ok(SearchFacesResult {
                        matched: true,
                        face_id: Some(candidate.face_id.clone()),
                        similarity: Some(candidate.similarity),
                        deny_at: None,
                    });
                }
                Some(_) => break,
                None => tracing::warn!(
                    face_id = %candidate.face_id,
                    external_image_id = ?candidate.external_image_id,
                    similarity = candidate.similarity,
                    "a collection match without a live record was ignored (orphan face)"
                ),
            }
        }
        // Not a failure of this step: the flow waits until the denial is due, then denies.
        Ok(SearchFacesResult {
            matched: false,
            face_id: None,
            similarity: None,
            deny_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{inline, FakeFaces, FakeRecords};
    use riv_domain::Reason;

    struct World {
        faces: Arc<FakeFaces>,
        records: Arc<FakeRecords>,
    }

    impl World {
        /// A registered face: in the collection and held by a live record.
        fn seed(&self, collection: &str, user: &str, identity: &str) -> String {
            let external = collections::external_image_id(user);
            let face_id = self.faces.seed(collection, &external, identity);
            self.records.live_user(user, collection, &face_id);
            face_id
        }
    }

    fn handler(count: u32) -> (World, SearchFaces) {
        let names = collections::names("riv", count);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let faces = Arc::new(FakeFaces::with_collections(&refs));
        let records = Arc::new(FakeRecords::default());
        let h = SearchFaces {
            faces: faces.clone(),
            records: records.clone(),
            collections: CollectionConfig {
                prefix: "riv".into(),
                count,
            },
            matching: MatchConfig::default(),
            guard: GuardConfig {
                denial_floor_ms: 0,
                ..GuardConfig::default()
            },
            bucket: "fake-bucket".into(),
        };
        (World { faces, records }, h)
    }

    fn request(user: &str, identity: &str, purpose: SearchPurpose) -> SearchFacesRequest {
        SearchFacesRequest {
            user_id: user.into(),
            image: inline(identity),
            purpose,
            started_at: None,
        }
    }

    #[tokio::test]
    async fn guard_passes_a_new_face() {
        let (faces, h) = handler(2);
        faces.seed("riv-1", "bob", "bob");
        let r = h
            .handle(request("ann", "ann", SearchPurpose::DuplicateGuard))
            .await
            .unwrap();
        assert!(!r.matched);
    }

    #[tokio::test]
    async fn guard_rejects_a_face_registered_to_someone_else_in_any_collection() {
        let (faces, h) = handler(3);
        let ann_home = collections::for_user(&h.collections, "ann");
        let elsewhere = collections::names("riv", 3)
            .into_iter()
            .find(|c| *c != ann_home)
            .unwrap();
        faces.seed(&elsewhere, "bob@example.com", "ann");
        let err = h
            .handle(request("ann", "ann#2", SearchPurpose::DuplicateGuard))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
    }

    #[tokio::test]
    async fn guard_names_the_same_user_as_already_existing() {
        let (faces, h) = handler(1);
        faces.seed("riv-1", "ann@example.com", "ann");
        let err = h
            .handle(request(
                "ann@example.com",
                "ann#2",
                SearchPurpose::DuplicateGuard,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserAlreadyExists);
    }

    #[tokio::test]
    async fn identify_verifies_only_when_the_best_match_is_the_user() {
        let (faces, h) = handler(1);
        let face = faces.seed("riv-1", "ann", "ann");
        let ok = h
            .handle(request("ann", "ann#3", SearchPurpose::Identify))
            .await
            .unwrap();
        assert!(ok.matched);
        assert_eq!(ok.face_id.as_deref(), Some(face.as_str()));
        assert_eq!(ok.similarity, Some(crate::fakes::SAME_PERSON));

        let denied = h
            .handle(request("bob", "ann#3", SearchPurpose::Identify))
            .await
            .unwrap();
        assert!(!denied.matched && denied.deny_at.is_some(), "{denied:?}");
        let denied = h
            .handle(request("ann", "carol", SearchPurpose::Identify))
            .await
            .unwrap();
        assert!(!denied.matched && denied.deny_at.is_some(), "{denied:?}");
    }

    #[tokio::test]
    async fn a_stricter_threshold_turns_a_match_away() {
        let (faces, mut h) = handler(1);
        faces.seed("riv-1", "ann", "ann");
        h.matching.face_match_threshold = 99.9;
        let denied = h
            .handle(request("ann", "ann#2", SearchPurpose::Identify))
            .await
            .unwrap();
        assert!(!denied.matched && denied.deny_at.is_some(), "{denied:?}");
    }

    #[tokio::test]
    async fn an_orphan_face_vouches_for_nobody() {
        let (w, h) = handler(1);
        // Ann is registered; mallory's face sits in the collection under ann's id, with no record.
        w.seed("riv-1", "ann", "ann");
        w.faces.seed("riv-1", "ann", "mallory");
        let denied = h
            .handle(request("ann", "mallory#2", SearchPurpose::Identify))
            .await
            .unwrap();
        assert!(!denied.matched && denied.deny_at.is_some(), "{denied:?}");
        // Nor does it block mallory from registering under her own name.
        h.handle(request(
            "mallory",
            "mallory#3",
            SearchPurpose::DuplicateGuard,
        ))
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn failures_map_to_reasons() {
        let (faces, h) = handler(1);
        let err = h
            .handle(request("ann", "nobody", SearchPurpose::DuplicateGuard))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::NoFaceDetected);
        let err = h
            .handle(request("a b", "ann", SearchPurpose::Identify))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        faces.faces.faults.fail("SearchFacesByImage");
        let err = h
            .handle(request("ann", "ann", SearchPurpose::DuplicateGuard))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }
}
