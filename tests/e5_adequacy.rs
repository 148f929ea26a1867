//! Translation adequacy with the real multilingual-e5-small, on pairs the team wrote: for every
//! pair, the right translation scores above the same translation with a negation dropped or a
//! number changed, which scores above an unrelated sentence. The margins are printed (run with
//! `--nocapture`) and quoted in the README.
mod common;

use precis::pipeline::Pipeline;
use precis::runtime::embeddings::cosine;
use precis::runtime::ModelEngine;
use precis::validate::{validate_translate, Limits, TranslateInput};

/// (original, right translation, the same with a negation dropped or a number changed, unrelated)
const PAIRS: &[(&str, &str, &str, &str)] = &[
    (
        "The minister said the factory will not close before 2030.",
        "Le ministre a déclaré que l'usine ne fermera pas avant 2030.",
        "Le ministre a déclaré que l'usine fermera avant 2030.",
        "Le festival de musique attire chaque été des milliers de visiteurs.",
    ),
    (
        "Police arrested 14 people after the match on Sunday.",
        "La policía detuvo a 14 personas después del partido del domingo.",
        "La policía detuvo a 40 personas después del partido del domingo.",
        "El precio del pan subió un diez por ciento este año.",
    ),
    (
        "Le gouvernement n'augmentera pas les impôts l'année prochaine.",
        "Die Regierung wird die Steuern im nächsten Jahr nicht erhöhen.",
        "Die Regierung wird die Steuern im nächsten Jahr erhöhen.",
        "Der Zug nach Hamburg hatte zwei Stunden Verspätung.",
    ),
    (
        "The company will cut 300 jobs at its plant in the north.",
        "Компания сократит 300 рабочих мест на своём заводе на севере.",
        "Компания сократит 3000 рабочих мест на своём заводе на севере.",
        "В субботу в парке прошёл детский праздник.",
    ),
    (
        "The bridge will not reopen until next spring.",
        "这座桥要到明年春天才会重新开放。",
        "这座桥明年春天会关闭。",
        "这家餐厅以烤鸭闻名。",
    ),
    (
        "Der Bürgermeister hat den Plan nicht unterschrieben.",
        "Il sindaco non ha firmato il piano.",
        "Il sindaco ha firmato il piano.",
        "La squadra ha vinto la partita di calcio per tre a zero.",
    ),
    (
        "Only 12 of the 80 schools have reopened after the storm.",
        "أعيد فتح 12 مدرسة فقط من أصل 80 بعد العاصفة.",
        "أعيد فتح 80 مدرسة من أصل 80 بعد العاصفة.",
        "ارتفعت أسعار الذهب في الأسواق العالمية.",
    ),
];

#[test]
fn right_translation_beats_altered_beats_unrelated_in_every_pair() {
    let mut engine =
        common::load_embeddings(&common::e5_spec()).expect("multilingual-e5-small loads");
    let texts: Vec<String> = PAIRS
        .iter()
        .flat_map(|(a, b, c, d)| [a, b, c, d].map(|t| t.to_string()))
        .collect();
    let vectors = engine.run_batch(vec![texts]).pop().unwrap().unwrap();
    for (pair, v) in PAIRS.iter().zip(vectors.chunks(4)) {
        let right = cosine(&v[0], &v[1]);
        let altered = cosine(&v[0], &v[2]);
        let unrelated = cosine(&v[0], &v[3]);
        println!(
            "{:.4} {:.4} {:.4}  margins {:.4} {:.4}  {}",
            right,
            altered,
            unrelated,
            right - altered,
            altered - unrelated,
            pair.1
        );
        assert!(
            right > altered && altered > unrelated,
            "{pair:?}: right {right}, altered {altered}, unrelated {unrelated}"
        );
    }
}

/// Translate (Apertium eng-spa) reports each translation's adequacy with the model that
/// measured it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translations_carry_their_adequacy() {
    let (pipeline, statuses) = Pipeline::load(&common::runtime_settings()).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");
    let request = validate_translate(
        TranslateInput {
            texts: vec![
                "The council approved the new bridge on Monday.".into(),
                "Fishing crews lost half their trade this year.".into(),
            ],
            source_language: "en".into(),
            target_language: "es".into(),
        },
        &Limits::default(),
    )
    .unwrap();
    let translated = pipeline.translate(request, None).await.unwrap();
    for text in &translated.texts {
        let translation = text.translation.as_ref().expect("translated");
        let adequacy = translation.adequacy.as_ref().expect("adequacy is set");
        assert_eq!(adequacy.model, "multilingual-e5-small");
        assert!(
            adequacy.cosine > 0.85,
            "{:?} -> {:?}: {}",
            text.original,
            translation.text,
            adequacy.cosine
        );
    }
}
