//! Real photos through the API, answered by the emulator's real engine (dlib faces, Tesseract text): the
//! fixtures of `localstack/emulator/fixtures/faces` and an ID card rendered from one of them. A face registers
//! once per collection, and these are the same people every run: before the first of these scenarios, the
//! faces like the fixtures that an earlier run left in the stack's collections are deleted, so a second run
//! against a long-lived LocalStack (`--endpoint-url`) sees them as new.

use crate::scenarios::{body, expect, Outcome, Scenario};
use crate::{b64, ensure, stack, unique, Stack};
use riv_emulator::photos::{self, CardFields, Person};
use serde_json::json;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("real_photo_registers_authenticates_and_refuses", || {
            Box::pin(real_photo_registers_authenticates_and_refuses())
        }),
        ("real_idcard_is_read_and_matched_to_the_selfie", || {
            Box::pin(real_idcard_is_read_and_matched_to_the_selfie())
        }),
    ]
}

/// The suite's stack, without the fixtures' faces an earlier run left (once per run, before any of these
/// scenarios registers one).
async fn real_stack() -> Result<&'static Stack, String> {
    static FORGOTTEN: tokio::sync::OnceCell<usize> = tokio::sync::OnceCell::const_new();
    let s = stack();
    FORGOTTEN
        .get_or_try_init(|| async {
            let mut images = Vec::new();
            for person in Person::ALL {
                images.push(photos::for_upload(
                    &person
                        .photo()
                        .map_err(|e| format!("{}: {e}", person.file()))?,
                ));
            }
            s.forget_faces_like(&images).await
        })
        .await
        .map_err(|e| format!("deleting an earlier run's faces of the fixtures: {e}"))?;
    Ok(s)
}

/// The fixture as a client sends it inline (scaled to 640 px: Step Functions' 256 KiB carries the request).
fn fixture(person: Person) -> Result<String, String> {
    person
        .photo()
        .map(|p| b64(&photos::for_upload(&p)))
        .map_err(|e| e.to_string())
}

async fn real_photo_registers_authenticates_and_refuses() -> Outcome {
    let s = real_stack().await?;
    let user = unique("obama");
    let (status, answer) = s
        .post("register", &body(&user, &fixture(Person::Obama)?))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "registering a real photo: {status} {answer} (is the real engine running? `cargo xtask local status` says)"
    );
    let (status, answer) = s
        .post("auth", &body(&user, &fixture(Person::Obama2)?))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Verified",
        "another photo of the same person: {status} {answer}"
    );
    ensure!(
        answer["Similarity"].as_f64().unwrap_or(0.0) >= 95.0,
        "similarity: {answer}"
    );
    expect(
        "a different person",
        s.post("auth", &body(&user, &fixture(Person::Biden)?)).await,
        401,
        "UserAccessDenied",
    )?;
    let other = unique("obama-again");
    expect(
        "the same face under a second UserId",
        s.post("register", &body(&other, &fixture(Person::Obama3)?))
            .await,
        409,
        "FaceAlreadyRegistered",
    )?;
    ensure!(
        s.user_state(&other).await?.is_empty(),
        "the refused second registration stored something"
    );
    Ok(())
}

async fn real_idcard_is_read_and_matched_to_the_selfie() -> Outcome {
    let s = real_stack().await?;
    let portrait = |p: Person| p.portrait().map_err(|e| e.to_string());
    let fields = CardFields::sample();
    let own_card = photos::for_upload(&photos::id_card(&portrait(Person::Biden)?, &fields));
    let user = unique("biden");
    let req = json!({
        "UserId": user,
        "Image": fixture(Person::Biden)?,
        "IdCard": b64(&own_card),
    });
    let (status, answer) = s.post("register-idcard", &req).await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register-idcard with the rendered card: {status} {answer}"
    );
    let f = &answer["IdCard"]["Fields"];
    ensure!(
        f["FIRST_NAME"] == "JOHN" && f["LAST_NAME"] == "DOE",
        "names read from the card: {answer}"
    );
    ensure!(
        f["DATE_OF_BIRTH"] == "1961-08-04" && f["EXPIRATION_DATE"] == "2029-08-04",
        "dates read from the card: {answer}"
    );
    ensure!(
        f["DOCUMENT_NUMBER"] == "D123-456-789",
        "document number read from the card: {answer}"
    );
    ensure!(
        answer["IdCard"]["Method"] == "analyze-id",
        "read by: {answer}"
    );

    let someone_else = photos::for_upload(&photos::id_card(&portrait(Person::Obama)?, &fields));
    let impostor = unique("collins");
    // A close-up, as a selfie is: the whole astronaut photo re-encoded shows the detector a second "face" on
    // her suit.
    let selfie = b64(&photos::for_upload(&portrait(Person::Astronaut)?));
    let req = json!({
        "UserId": impostor,
        "Image": selfie,
        "IdCard": b64(&someone_else),
    });
    expect(
        "a card with another person's photo",
        s.post("register-idcard", &req).await,
        403,
        "FaceNotMatchWithIdCard",
    )?;
    ensure!(
        s.user_state(&impostor).await?.is_empty(),
        "a refused card stored something"
    );
    Ok(())
}
