//! Every scenario of `riv_e2e::catalog` as a test of its own, against the shared local stack.

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Err(e) = riv_e2e::catalog::run(stringify!($name)).await {
                    panic!("{e}");
                }
            }
        )*

        #[test]
        fn every_scenario_has_a_test() {
            let mut tested = vec![$(stringify!($name)),*];
            let mut all: Vec<&str> = riv_e2e::catalog::every().into_iter().map(|(n, _)| n).collect();
            tested.sort_unstable();
            all.sort_unstable();
            assert_eq!(tested, all);
        }
    };
}

scenarios!(
    a_customer_key_encrypts_the_stack_and_destroy_removes_it,
    register_stores_face_image_and_record,
    register_rejects_every_quality_failure,
    register_refuses_a_face_registered_to_another_user,
    register_refuses_an_existing_user,
    register_rejects_malformed_requests_without_state,
    register_idcard_reads_the_card_with_analyze_id,
    register_idcard_reads_the_card_with_detect_text,
    register_idcard_refuses_someone_elses_card,
    register_idcard_rejects_unreadable_and_oversized_cards,
    auth_verifies_the_right_person,
    auth_denies_another_person_and_publishes_login_failed,
    auth_denies_an_unknown_user_like_a_wrong_face,
    auth_falls_back_to_the_collection_search,
    update_adds_the_new_face_of_the_same_person,
    update_denies_another_person_and_changes_nothing,
    rollback_leaves_nothing_when_the_record_write_fails,
    concurrent_registrations_of_one_face_have_one_winner,
    concurrent_auths_are_all_correct,
    auth_denies_a_face_planted_under_the_victims_id,
    a_crash_after_index_faces_is_repaired_by_reconcile,
    a_crash_after_the_image_write_is_rolled_back_past_a_failing_delete,
    registrations_under_dynamodb_errors_keep_the_invariants,
    twenty_people_register_at_once,
    concurrent_updates_lose_no_property,
    real_photo_registers_authenticates_and_refuses,
    real_idcard_is_read_and_matched_to_the_selfie,
    abuse_an_unknown_user_and_a_wrong_face_answer_alike,
    abuse_failed_attempts_lock_the_user_out,
    abuse_card_fields_cannot_be_typed_or_overwritten,
    abuse_an_update_beyond_the_cap_replaces_the_oldest_face,
    abuse_the_selfie_as_its_own_card_costs_no_textract_call,
    abuse_properties_are_capped_per_user,
    abuse_an_api_key_stack_refuses_callers_without_the_key,
    every_route_refuses_each_kind_of_malformed_request,
    a_throttled_rekognition_call_is_retried_and_registration_succeeds,
    uploads_sign_a_put_that_lands_with_its_owner,
    uploads_carry_a_3_mb_photo_through_register_and_auth,
    uploads_refuse_bad_keys_and_change_nothing,
    portal_is_served_by_the_stack_with_its_security_headers,
    persistent_rekognition_faults_end_500_with_nothing_stored,
    rekognition_reads_s3_object_images_from_the_local_s3,
);
