//! A flat trigram index over lingua's own models: the cheap first stage of language detection.
//!
//! lingua stores, per language, the log probability of each n-gram (orders 1–5) in a
//! finite-state map inside its model crates. Scoring a text with lingua costs one map lookup per
//! n-gram, per order, per candidate language (about 60 µs per candidate language for a
//! sentence here). This index reads only the trigrams of every language once, into one hash
//! table keyed by the trigram, so one lookup per trigram scores all 75 languages at once. It
//! ranks languages (a naive Bayes over trigrams, an unseen trigram costing a language its least
//! likely trigram); it does not replace lingua: it chooses the few candidates lingua then scores.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use fst::{Automaton, IntoStreamer, Streamer};
use lingua::Language;

const NGRAM_MODEL_FILE: &str = "ngrams.fst";

/// The bytes of lingua's n-gram probability model of `language` (a finite-state map from the
/// n-gram to the bits of its natural-log probability).
fn ngram_model_bytes(language: Language) -> Option<&'static [u8]> {
    let file =
        match language {
            Language::Afrikaans => lingua_afrikaans_language_model::AFRIKAANS_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Albanian => {
                lingua_albanian_language_model::ALBANIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Arabic => {
                lingua_arabic_language_model::ARABIC_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Armenian => {
                lingua_armenian_language_model::ARMENIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Azerbaijani => {
                lingua_azerbaijani_language_model::AZERBAIJANI_MODELS_DIRECTORY
                    .get_file(NGRAM_MODEL_FILE)
            }
            Language::Basque => {
                lingua_basque_language_model::BASQUE_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Belarusian => lingua_belarusian_language_model::BELARUSIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Bengali => {
                lingua_bengali_language_model::BENGALI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Bokmal => {
                lingua_bokmal_language_model::BOKMAL_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Bosnian => {
                lingua_bosnian_language_model::BOSNIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Bulgarian => lingua_bulgarian_language_model::BULGARIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Catalan => {
                lingua_catalan_language_model::CATALAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Chinese => {
                lingua_chinese_language_model::CHINESE_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Croatian => {
                lingua_croatian_language_model::CROATIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Czech => {
                lingua_czech_language_model::CZECH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Danish => {
                lingua_danish_language_model::DANISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Dutch => {
                lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::English => {
                lingua_english_language_model::ENGLISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Esperanto => lingua_esperanto_language_model::ESPERANTO_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Estonian => {
                lingua_estonian_language_model::ESTONIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Finnish => {
                lingua_finnish_language_model::FINNISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::French => {
                lingua_french_language_model::FRENCH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Ganda => {
                lingua_ganda_language_model::GANDA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Georgian => {
                lingua_georgian_language_model::GEORGIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::German => {
                lingua_german_language_model::GERMAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Greek => {
                lingua_greek_language_model::GREEK_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Gujarati => {
                lingua_gujarati_language_model::GUJARATI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Hebrew => {
                lingua_hebrew_language_model::HEBREW_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Hindi => {
                lingua_hindi_language_model::HINDI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Hungarian => lingua_hungarian_language_model::HUNGARIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Icelandic => lingua_icelandic_language_model::ICELANDIC_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Indonesian => lingua_indonesian_language_model::INDONESIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Irish => {
                lingua_irish_language_model::IRISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Italian => {
                lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Japanese => {
                lingua_japanese_language_model::JAPANESE_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Kazakh => {
                lingua_kazakh_language_model::KAZAKH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Korean => {
                lingua_korean_language_model::KOREAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Latin => {
                lingua_latin_language_model::LATIN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Latvian => {
                lingua_latvian_language_model::LATVIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Lithuanian => lingua_lithuanian_language_model::LITHUANIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Macedonian => lingua_macedonian_language_model::MACEDONIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Malay => {
                lingua_malay_language_model::MALAY_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Maori => {
                lingua_maori_language_model::MAORI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Marathi => {
                lingua_marathi_language_model::MARATHI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Mongolian => lingua_mongolian_language_model::MONGOLIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Nynorsk => {
                lingua_nynorsk_language_model::NYNORSK_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Persian => {
                lingua_persian_language_model::PERSIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Polish => {
                lingua_polish_language_model::POLISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Portuguese => lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Punjabi => {
                lingua_punjabi_language_model::PUNJABI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Romanian => {
                lingua_romanian_language_model::ROMANIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Russian => {
                lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Serbian => {
                lingua_serbian_language_model::SERBIAN_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Shona => {
                lingua_shona_language_model::SHONA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Slovak => {
                lingua_slovak_language_model::SLOVAK_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Slovene => {
                lingua_slovene_language_model::SLOVENE_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Somali => {
                lingua_somali_language_model::SOMALI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Sotho => {
                lingua_sotho_language_model::SOTHO_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Spanish => {
                lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Swahili => {
                lingua_swahili_language_model::SWAHILI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Swedish => {
                lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Tagalog => {
                lingua_tagalog_language_model::TAGALOG_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Tamil => {
                lingua_tamil_language_model::TAMIL_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Telugu => {
                lingua_telugu_language_model::TELUGU_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Thai => {
                lingua_thai_language_model::THAI_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Tsonga => {
                lingua_tsonga_language_model::TSONGA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Tswana => {
                lingua_tswana_language_model::TSWANA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Turkish => {
                lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Ukrainian => lingua_ukrainian_language_model::UKRAINIAN_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Urdu => {
                lingua_urdu_language_model::URDU_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Vietnamese => lingua_vietnamese_language_model::VIETNAMESE_MODELS_DIRECTORY
                .get_file(NGRAM_MODEL_FILE),
            Language::Welsh => {
                lingua_welsh_language_model::WELSH_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Xhosa => {
                lingua_xhosa_language_model::XHOSA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Yoruba => {
                lingua_yoruba_language_model::YORUBA_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
            Language::Zulu => {
                lingua_zulu_language_model::ZULU_MODELS_DIRECTORY.get_file(NGRAM_MODEL_FILE)
            }
        };
    file.map(|file| file.contents())
}

/// Accepts keys of exactly three UTF-8 characters, so only the trigram branch of a model is
/// walked. State: `None` once dead, else (characters begun, continuation bytes still due).
struct ThreeChars;

impl Automaton for ThreeChars {
    type State = Option<(u8, u8)>;

    fn start(&self) -> Self::State {
        Some((0, 0))
    }

    fn is_match(&self, state: &Self::State) -> bool {
        *state == Some((3, 0))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let (chars, pending) = (*state)?;
        if byte & 0xC0 == 0x80 {
            return pending.checked_sub(1).map(|pending| (chars, pending));
        }
        if pending != 0 || chars == 3 {
            return None;
        }
        let continuation = match byte {
            0x00..=0x7F => 0,
            0xC0..=0xDF => 1,
            0xE0..=0xEF => 2,
            _ => 3,
        };
        Some((chars + 1, continuation))
    }
}

/// Three characters packed into one key (21 bits each).
fn trigram_key(a: char, b: char, c: char) -> u64 {
    (u64::from(a) << 42) | (u64::from(b) << 21) | u64::from(c)
}

/// Fibonacci hashing of the packed key: the keys are already well spread, so one multiply is
/// enough (std's SipHash would cost more than the rest of a lookup).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (value ^ (value >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One language's ranking score: its index in [`TrigramIndex::languages`] and its score.
pub(crate) type Ranked = (usize, f64);

/// All languages' trigram log probabilities, one lookup per trigram.
pub(crate) struct TrigramIndex {
    /// The languages, in a fixed order (index = position).
    languages: Vec<Language>,
    /// Trigram → range of `entries`.
    ranges: HashMap<u64, (u32, u32), BuildHasherDefault<KeyHasher>>,
    /// (language index, log probability minus that language's floor), grouped by trigram.
    entries: Vec<(u8, f32)>,
    /// Per language: the log probability charged for a trigram it has not seen.
    floors: Vec<f64>,
}

impl TrigramIndex {
    /// Reads the trigrams of every lingua language (about a second of work, once).
    pub(crate) fn build() -> Self {
        let mut languages: Vec<Language> = Language::all().into_iter().collect();
        languages.sort();
        let mut raw: Vec<(u64, u8, f64)> = Vec::new();
        // A language without a model (none today) can never rank first.
        let mut floors = vec![f64::NEG_INFINITY; languages.len()];
        for (index, language) in languages.iter().enumerate() {
            let Some(bytes) = ngram_model_bytes(*language) else {
                continue;
            };
            let Ok(map) = fst::Map::new(bytes) else {
                continue;
            };
            let mut floor = f64::INFINITY;
            let mut stream = map.search(ThreeChars).into_stream();
            while let Some((key, value)) = stream.next() {
                let Ok(text) = std::str::from_utf8(key) else {
                    continue;
                };
                let mut chars = text.chars();
                let (Some(a), Some(b), Some(c)) = (chars.next(), chars.next(), chars.next()) else {
                    continue;
                };
                let log_probability = f64::from_bits(value);
                if !log_probability.is_finite() {
                    continue;
                }
                floor = floor.min(log_probability);
                raw.push((trigram_key(a, b, c), index as u8, log_probability));
            }
            // No trigrams at all (Chinese, Japanese and Korean are modelled by characters): the
            // floor stays infinite and the language never ranks.
            if floor.is_finite() {
                floors[index] = floor;
            }
        }
        raw.sort_unstable_by_key(|(key, language, _)| (*key, *language));
        let mut ranges = HashMap::with_capacity_and_hasher(raw.len() / 4, Default::default());
        let mut entries = Vec::with_capacity(raw.len());
        let mut start = 0;
        while start < raw.len() {
            let key = raw[start].0;
            let mut end = start;
            while end < raw.len() && raw[end].0 == key {
                let (_, language, log_probability) = raw[end];
                entries.push((
                    language,
                    (log_probability - floors[language as usize]) as f32,
                ));
                end += 1;
            }
            ranges.insert(key, (start as u32, end as u32));
            start = end;
        }
        TrigramIndex {
            languages,
            ranges,
            entries,
            floors,
        }
    }

    pub(crate) fn language(&self, index: usize) -> Language {
        self.languages[index]
    }

    /// Scores every language on the trigrams inside the words of `text` (lower-cased runs of
    /// letters, as lingua reads them), best first; and how many trigrams were read. Linear in
    /// the text.
    pub(crate) fn rank(&self, text: &str) -> (Vec<Ranked>, usize) {
        let mut gains = vec![0.0f64; self.languages.len()];
        let mut count = 0usize;
        let mut window: [char; 3] = ['\0'; 3];
        let mut filled = 0usize;
        for c in text.chars().flat_map(char::to_lowercase) {
            if !c.is_alphabetic() {
                filled = 0;
                continue;
            }
            window = [window[1], window[2], c];
            filled += 1;
            if filled < 3 {
                continue;
            }
            count += 1;
            if let Some(&(start, end)) = self
                .ranges
                .get(&trigram_key(window[0], window[1], window[2]))
            {
                for &(language, gain) in &self.entries[start as usize..end as usize] {
                    gains[language as usize] += f64::from(gain);
                }
            }
        }
        let mut ranked: Vec<Ranked> = gains
            .iter()
            .zip(&self.floors)
            .enumerate()
            .map(|(index, (gain, floor))| {
                let score = if floor.is_finite() {
                    gain + floor * count as f64
                } else {
                    f64::NEG_INFINITY
                };
                (index, score)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        (ranked, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn index() -> &'static TrigramIndex {
        static INDEX: OnceLock<TrigramIndex> = OnceLock::new();
        INDEX.get_or_init(TrigramIndex::build)
    }

    #[test]
    fn automaton_accepts_exactly_three_characters() {
        let run = |key: &str| {
            let mut state = ThreeChars.start();
            for &byte in key.as_bytes() {
                state = ThreeChars.accept(&state, byte);
            }
            ThreeChars.is_match(&state)
        };
        assert!(run("abc"));
        assert!(run("çéñ"));
        assert!(run("дом"));
        assert!(!run("ab"));
        assert!(!run("abcd"));
        assert!(!run("çé"));
    }

    #[test]
    fn every_language_with_trigrams_is_indexed() {
        let indexed = index()
            .floors
            .iter()
            .filter(|floor| floor.is_finite())
            .count();
        // Chinese, Japanese and Korean are modelled by characters only.
        assert!(indexed >= 70, "{indexed}");
        assert!(index().entries.len() > 100_000);
    }

    #[test]
    fn ranks_the_language_of_a_clear_sentence_first() {
        let cases = [
            (
                "The weather was fine and the children played in the garden.",
                Language::English,
            ),
            (
                "Il faisait beau et les enfants jouaient dans le jardin.",
                Language::French,
            ),
            (
                "Погода была хорошей, и дети играли в саду.",
                Language::Russian,
            ),
            (
                "Ο καιρός ήταν καλός και τα παιδιά έπαιζαν στον κήπο.",
                Language::Greek,
            ),
        ];
        for (text, expected) in cases {
            let (ranked, count) = index().rank(text);
            assert!(count > 10);
            assert_eq!(index().language(ranked[0].0), expected, "{text}");
        }
    }

    #[test]
    fn text_without_trigrams_reads_none() {
        let (ranked, count) = index().rank("a b, 12 !");
        assert_eq!(count, 0);
        assert_eq!(ranked.len(), index().languages.len());
    }
}
