//! `search-faces`: the duplicate guard of registration (this face must belong to nobody yet, in any
//! collection) and the fallback of authentication (the best match in the user's collection must be theirs).

use super::image_error;
use crate::ports::{FaceEngine, FaceMatch};
use crate::HandlerError;
use riv_domain::collections;
use riv_domain::config::{CollectionConfig, MatchConfig};
use riv_domain::events::{SearchFacesRequest, SearchFacesResult, SearchPurpose};
use riv_domain::{validate, Rejection};
use std::sync::Arc;

/// Enough candidates to see past a few near-duplicates of the same person.
const MAX_CANDIDATES: i32 = 5;

pub struct SearchFaces {
    pub faces: Arc<dyn FaceEngine>,
    pub collections: CollectionConfig,
    pub matching: MatchConfig,
}

impl SearchFaces {
    pub async fn handle(
        &self,
        request: SearchFacesRequest,
    ) -> Result<SearchFacesResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?;
        let image = validate::image("Image", &request.image, validate::MAX_SELFIE_BYTES)?;
        match request.purpose {
            SearchPurpose::DuplicateGuard => self.guard(user_id, &image.bytes).await,
            SearchPurpose::Identify => self.identify(user_id, &image.bytes).await,
        }
    }

    async fn guard(&self, user_id: &str, image: &[u8]) -> Result<SearchFacesResult, HandlerError> {
        let threshold = self.matching.face_match_threshold;
        refuse_duplicates(&*self.faces, &self.collections, threshold, user_id, image).await?;
        Ok(SearchFacesResult {
            matched: false,
            face_id: None,
            similarity: None,
        })
    }

    async fn identify(
        &self,
        user_id: &str,
        image: &[u8],
    ) -> Result<SearchFacesResult, HandlerError> {
        let collection = collections::for_user(&self.collections, user_id);
        let own_id = collections::external_image_id(user_id);
        let matches = self.search(&collection, image).await?;
        // Matches come best first: the user is verified only if the best match is theirs, not merely any.
        match matches.first() {
            Some(best) if best.external_image_id.as_deref() == Some(own_id.as_str()) => {
                Ok(SearchFacesResult {
                    matched: true,
                    face_id: Some(best.face_id.clone()),
                    similarity: Some(best.similarity),
                })
            }
            _ => Err(Rejection::UserAccessDenied.into()),
        }
    }

    async fn search(&self, collection: &str, image: &[u8]) -> Result<Vec<FaceMatch>, HandlerError> {
        search(
            &*self.faces,
            collection,
            image,
            self.matching.face_match_threshold,
        )
        .await
    }
}

/// Faces of this image in one collection at or above `threshold`, best first.
async fn search(
    faces: &dyn FaceEngine,
    collection: &str,
    image: &[u8],
    threshold: f32,
) -> Result<Vec<FaceMatch>, HandlerError> {
    let mut matches = faces
        .search_faces_by_image(collection, image, threshold, MAX_CANDIDATES)
        .await
        .map_err(|e| image_error(e, "Image"))?;
    matches.retain(|m| m.similarity >= threshold);
    matches.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    Ok(matches)
}

/// Fails when this face already belongs to anyone: `UserAlreadyExists` if to this very user, else
/// `FaceAlreadyRegistered`. A user's partition says where *their* faces go; somebody else's copy of this face
/// can be in any collection, so all are searched.
pub async fn refuse_duplicates(
    faces: &dyn FaceEngine,
    config: &CollectionConfig,
    threshold: f32,
    user_id: &str,
    image: &[u8],
) -> Result<(), HandlerError> {
    for collection in collections::names(&config.prefix, config.count) {
        if let Some(best) = search(faces, &collection, image, threshold).await?.first() {
            let owner = best
                .external_image_id
                .as_deref()
                .map(collections::user_of_external_image_id);
            tracing::info!(similarity = best.similarity, "face already registered");
            return Err(if owner.as_deref() == Some(user_id) {
                Rejection::UserAlreadyExists(user_id.to_string())
            } else {
                Rejection::FaceAlreadyRegistered
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo_b64, FakeFaces};
    use riv_domain::Reason;

    fn handler(count: u32) -> (Arc<FakeFaces>, SearchFaces) {
        let names = collections::names("riv", count);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let faces = Arc::new(FakeFaces::with_collections(&refs));
        let h = SearchFaces {
            faces: faces.clone(),
            collections: CollectionConfig {
                prefix: "riv".into(),
                count,
            },
            matching: MatchConfig::default(),
        };
        (faces, h)
    }

    fn request(user: &str, identity: &str, purpose: SearchPurpose) -> SearchFacesRequest {
        SearchFacesRequest {
            user_id: user.into(),
            image: photo_b64(identity),
            purpose,
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
        faces.seed(&elsewhere, "bob:example.com", "ann");
        let err = h
            .handle(request("ann", "ann#2", SearchPurpose::DuplicateGuard))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
    }

    #[tokio::test]
    async fn guard_names_the_same_user_as_already_existing() {
        let (faces, h) = handler(1);
        faces.seed("riv-1", "ann:example.com", "ann");
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

        let err = h
            .handle(request("bob", "ann#3", SearchPurpose::Identify))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserAccessDenied);
        let err = h
            .handle(request("ann", "carol", SearchPurpose::Identify))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserAccessDenied);
    }

    #[tokio::test]
    async fn a_stricter_threshold_turns_a_match_away() {
        let (faces, mut h) = handler(1);
        faces.seed("riv-1", "ann", "ann");
        h.matching.face_match_threshold = 99.9;
        let err = h
            .handle(request("ann", "ann#2", SearchPurpose::Identify))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserAccessDenied);
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
        faces.faults.fail("SearchFacesByImage");
        let err = h
            .handle(request("ann", "ann", SearchPurpose::DuplicateGuard))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }
}
