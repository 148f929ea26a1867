//! lingua's n-gram probability models, read from its model crates (compiled into the binary;
//! nothing is downloaded).

use lingua::Language;

const NGRAM_MODEL_FILE: &str = "ngrams.fst";

/// The model file of `language`, from a table `Variant => model crate directory`.
macro_rules! model_directories {
    ($language:expr, { $($variant:ident => $directory:path,)* }) => {
        match $language {
            $(Language::$variant => $directory.get_file(NGRAM_MODEL_FILE),)*
        }
    };
}

/// The bytes of lingua's n-gram probability model of `language` (a finite-state map from the
/// n-gram to the bits of its natural-log probability).
pub(crate) fn ngram_model_bytes(language: Language) -> Option<&'static [u8]> {
    let file = model_directories!(language, {
        Afrikaans => lingua_afrikaans_language_model::AFRIKAANS_MODELS_DIRECTORY,
        Albanian => lingua_albanian_language_model::ALBANIAN_MODELS_DIRECTORY,
        Arabic => lingua_arabic_language_model::ARABIC_MODELS_DIRECTORY,
        Armenian => lingua_armenian_language_model::ARMENIAN_MODELS_DIRECTORY,
        Azerbaijani => lingua_azerbaijani_language_model::AZERBAIJANI_MODELS_DIRECTORY,
        Basque => lingua_basque_language_model::BASQUE_MODELS_DIRECTORY,
        Belarusian => lingua_belarusian_language_model::BELARUSIAN_MODELS_DIRECTORY,
        Bengali => lingua_bengali_language_model::BENGALI_MODELS_DIRECTORY,
        Bokmal => lingua_bokmal_language_model::BOKMAL_MODELS_DIRECTORY,
        Bosnian => lingua_bosnian_language_model::BOSNIAN_MODELS_DIRECTORY,
        Bulgarian => lingua_bulgarian_language_model::BULGARIAN_MODELS_DIRECTORY,
        Catalan => lingua_catalan_language_model::CATALAN_MODELS_DIRECTORY,
        Chinese => lingua_chinese_language_model::CHINESE_MODELS_DIRECTORY,
        Croatian => lingua_croatian_language_model::CROATIAN_MODELS_DIRECTORY,
        Czech => lingua_czech_language_model::CZECH_MODELS_DIRECTORY,
        Danish => lingua_danish_language_model::DANISH_MODELS_DIRECTORY,
        Dutch => lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY,
        English => lingua_english_language_model::ENGLISH_MODELS_DIRECTORY,
        Esperanto => lingua_esperanto_language_model::ESPERANTO_MODELS_DIRECTORY,
        Estonian => lingua_estonian_language_model::ESTONIAN_MODELS_DIRECTORY,
        Finnish => lingua_finnish_language_model::FINNISH_MODELS_DIRECTORY,
        French => lingua_french_language_model::FRENCH_MODELS_DIRECTORY,
        Ganda => lingua_ganda_language_model::GANDA_MODELS_DIRECTORY,
        Georgian => lingua_georgian_language_model::GEORGIAN_MODELS_DIRECTORY,
        German => lingua_german_language_model::GERMAN_MODELS_DIRECTORY,
        Greek => lingua_greek_language_model::GREEK_MODELS_DIRECTORY,
        Gujarati => lingua_gujarati_language_model::GUJARATI_MODELS_DIRECTORY,
        Hebrew => lingua_hebrew_language_model::HEBREW_MODELS_DIRECTORY,
        Hindi => lingua_hindi_language_model::HINDI_MODELS_DIRECTORY,
        Hungarian => lingua_hungarian_language_model::HUNGARIAN_MODELS_DIRECTORY,
        Icelandic => lingua_icelandic_language_model::ICELANDIC_MODELS_DIRECTORY,
        Indonesian => lingua_indonesian_language_model::INDONESIAN_MODELS_DIRECTORY,
        Irish => lingua_irish_language_model::IRISH_MODELS_DIRECTORY,
        Italian => lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY,
        Japanese => lingua_japanese_language_model::JAPANESE_MODELS_DIRECTORY,
        Kazakh => lingua_kazakh_language_model::KAZAKH_MODELS_DIRECTORY,
        Korean => lingua_korean_language_model::KOREAN_MODELS_DIRECTORY,
        Latin => lingua_latin_language_model::LATIN_MODELS_DIRECTORY,
        Latvian => lingua_latvian_language_model::LATVIAN_MODELS_DIRECTORY,
        Lithuanian => lingua_lithuanian_language_model::LITHUANIAN_MODELS_DIRECTORY,
        Macedonian => lingua_macedonian_language_model::MACEDONIAN_MODELS_DIRECTORY,
        Malay => lingua_malay_language_model::MALAY_MODELS_DIRECTORY,
        Maori => lingua_maori_language_model::MAORI_MODELS_DIRECTORY,
        Marathi => lingua_marathi_language_model::MARATHI_MODELS_DIRECTORY,
        Mongolian => lingua_mongolian_language_model::MONGOLIAN_MODELS_DIRECTORY,
        Nynorsk => lingua_nynorsk_language_model::NYNORSK_MODELS_DIRECTORY,
        Persian => lingua_persian_language_model::PERSIAN_MODELS_DIRECTORY,
        Polish => lingua_polish_language_model::POLISH_MODELS_DIRECTORY,
        Portuguese => lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY,
        Punjabi => lingua_punjabi_language_model::PUNJABI_MODELS_DIRECTORY,
        Romanian => lingua_romanian_language_model::ROMANIAN_MODELS_DIRECTORY,
        Russian => lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY,
        Serbian => lingua_serbian_language_model::SERBIAN_MODELS_DIRECTORY,
        Shona => lingua_shona_language_model::SHONA_MODELS_DIRECTORY,
        Slovak => lingua_slovak_language_model::SLOVAK_MODELS_DIRECTORY,
        Slovene => lingua_slovene_language_model::SLOVENE_MODELS_DIRECTORY,
        Somali => lingua_somali_language_model::SOMALI_MODELS_DIRECTORY,
        Sotho => lingua_sotho_language_model::SOTHO_MODELS_DIRECTORY,
        Spanish => lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY,
        Swahili => lingua_swahili_language_model::SWAHILI_MODELS_DIRECTORY,
        Swedish => lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY,
        Tagalog => lingua_tagalog_language_model::TAGALOG_MODELS_DIRECTORY,
        Tamil => lingua_tamil_language_model::TAMIL_MODELS_DIRECTORY,
        Telugu => lingua_telugu_language_model::TELUGU_MODELS_DIRECTORY,
        Thai => lingua_thai_language_model::THAI_MODELS_DIRECTORY,
        Tsonga => lingua_tsonga_language_model::TSONGA_MODELS_DIRECTORY,
        Tswana => lingua_tswana_language_model::TSWANA_MODELS_DIRECTORY,
        Turkish => lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY,
        Ukrainian => lingua_ukrainian_language_model::UKRAINIAN_MODELS_DIRECTORY,
        Urdu => lingua_urdu_language_model::URDU_MODELS_DIRECTORY,
        Vietnamese => lingua_vietnamese_language_model::VIETNAMESE_MODELS_DIRECTORY,
        Welsh => lingua_welsh_language_model::WELSH_MODELS_DIRECTORY,
        Xhosa => lingua_xhosa_language_model::XHOSA_MODELS_DIRECTORY,
        Yoruba => lingua_yoruba_language_model::YORUBA_MODELS_DIRECTORY,
        Zulu => lingua_zulu_language_model::ZULU_MODELS_DIRECTORY,
    });
    file.map(|file| file.contents())
}
