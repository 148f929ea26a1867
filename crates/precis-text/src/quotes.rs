//! Direct quotes, their speakers and cue verbs.
//!
//! Spans: [`Quote::span`] is the quoted content WITHOUT the marks (trimmed of inner spaces, as in
//! French `« texte »`), and `&text[quote.span] == quote.text`. [`Quote::outer_span`] adds the
//! marks (for dash dialogue: from the dash). A quote running over several paragraphs (its
//! opening mark repeated at each new paragraph, no closing mark at the paragraph end) is one
//! quote whose span includes the paragraph breaks and the repeated marks. Quotes nested inside
//! a quote are part of the outer quote's text; only top-level quotes are returned.
//!
//! Marks: “” "" „“ „” ‚‘ ‘’ «» »« ‹› 「」 『』 ”” and dialogue introduced by a dash (— – ―) at
//! the start of a paragraph, as in the Spanish and French press, where the narrator's words
//! (`—afirmó el ministro—`, `, dit-il`) are cut out of the quote.
//!
//! Speakers: cue words of a multilingual lexicon ([`CUE_VERBS`], [`CUE_PREPOSITIONS`]) are found
//! in the text outside quotes; each takes its subject from the words next to it: a name
//! (capitalised words, a title before it split off), a pronoun or no subject (resolved to the
//! nearest named speaker before it), or a role noun phrase (resolved to the nearest named
//! speaker with that title, else returned as the title alone). A quote takes the cue right
//! after it, else the nearest one before it in its sentence, else the last of the previous
//! sentence. Everything is linear in the text: one pass for marks, one for cues, and each quote
//! looks up its cues by binary search; backward searches are bounded.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Serialize;

use crate::language::{Detection, LanguageDetector};
use crate::segment::{trim_span, Segmentation};
use crate::ByteSpan;

/// How a speaker was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SpeakerKind {
    /// Named next to the cue verb.
    Named,
    /// A pronoun, a role noun or no subject at all, resolved to a person named earlier.
    Resolved,
    /// A role with no name to resolve it to ("the Transport minister").
    TitleOnly,
}

/// Who said a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Speaker {
    /// The name (or, for [`SpeakerKind::TitleOnly`], the title) as written.
    pub name: String,
    /// Where that name is written.
    pub span: ByteSpan,
    pub kind: SpeakerKind,
    /// Title or role written next to the name, lower case, if any ("deputy foreign minister").
    pub title: Option<String>,
}

/// A direct quote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    /// The quoted words: `&article[span]`.
    pub text: String,
    /// The quoted words without the marks.
    pub span: ByteSpan,
    /// The quote with its marks (or its dialogue dash).
    pub outer_span: ByteSpan,
    pub speaker: Option<Speaker>,
    /// The cue word(s) as written ("said", "a déclaré", "según").
    pub cue_verb: Option<String>,
    /// Language of the quote on its own; `und` when it is too short to tell.
    pub language: Detection,
    /// Confidence in [0, 1] that this is a direct quote with the right speaker.
    pub confidence: f64,
    /// Score in [0, 1] to rank key quotes: length, attribution, position, confidence.
    pub salience: f64,
    /// Index of the sentence where the quote starts.
    pub sentence_index: usize,
}

/// Verbs (finite forms and participles) that introduce or follow a direct quote, lower case.
pub const CUE_VERBS: &[&str] = &[
    // English
    "said",
    "called",
    "félicite",
    "réjouit",
    "indigne",
    "insurge",
    "inquiète",
    "interroge",
    "plaide",
    "détaille",
    "rétorque",
    "glisse",
    "souffle",
    "lâche",
    "tacle",
    "avoue",
    "témoigne",
    "relève",
    "warf",
    "aseguraron",
    "dijeron",
    "afirmaron",
    "señalaron",
    "explicaron",
    "indicaron",
    "preguntó",
    "demande",
    "demandé",
    "fragte",
    "described",
    "says",
    "say",
    "told",
    "tells",
    "added",
    "adds",
    "adding",
    "saying",
    "telling",
    "stated",
    "states",
    "explained",
    "explains",
    "noted",
    "notes",
    "asked",
    "asks",
    "replied",
    "replies",
    "wrote",
    "writes",
    "argued",
    "argues",
    "insisted",
    "insists",
    "warned",
    "warns",
    "declared",
    "declares",
    "announced",
    "announces",
    "claimed",
    "claims",
    "continued",
    "admitted",
    "acknowledged",
    "stressed",
    "stresses",
    "emphasized",
    "emphasised",
    "remarked",
    "recalled",
    "commented",
    "tweeted",
    "responded",
    "answered",
    "concluded",
    "observed",
    "urged",
    "promised",
    "vowed",
    "conceded",
    "countered",
    "shouted",
    "cried",
    "testified",
    "posted",
    "predicted",
    "agreed",
    "complained",
    "confirmed",
    "cautioned",
    // French
    "dit",
    "déclaré",
    "déclare",
    "affirmé",
    "affirme",
    "estimé",
    "estime",
    "ajouté",
    "ajoute",
    "expliqué",
    "explique",
    "indiqué",
    "indique",
    "souligné",
    "souligne",
    "assuré",
    "assure",
    "précisé",
    "précise",
    "lancé",
    "lance",
    "répondu",
    "répond",
    "confié",
    "confie",
    "martelé",
    "martèle",
    "reconnu",
    "reconnaît",
    "averti",
    "avertit",
    "annoncé",
    "annonce",
    "insisté",
    "insiste",
    "poursuivi",
    "poursuit",
    "conclu",
    "conclut",
    "raconté",
    "raconte",
    "rappelé",
    "rappelle",
    "écrit",
    "tweeté",
    "exclamé",
    "réagi",
    "réagit",
    "commenté",
    "commente",
    "jugé",
    "juge",
    "dénoncé",
    "dénonce",
    "regretté",
    "regrette",
    "promis",
    "prévenu",
    "prévient",
    "admis",
    "noté",
    "note",
    "confirmé",
    "confirme",
    "observé",
    "observe",
    "répète",
    "répété",
    "ironise",
    "ironisé",
    "tranche",
    "tranché",
    "résume",
    "résumé",
    "déplore",
    "déploré",
    // German
    "sagte",
    "sagt",
    "sagten",
    "erklärte",
    "erklärt",
    "betonte",
    "betont",
    "fügte",
    "meinte",
    "meint",
    "teilte",
    "warnte",
    "warnt",
    "kritisierte",
    "kritisiert",
    "forderte",
    "fordert",
    "schrieb",
    "schreibt",
    "räumte",
    "versicherte",
    "versichert",
    "bekräftigte",
    "bestätigte",
    "bestätigt",
    "ergänzte",
    "ergänzt",
    "antwortete",
    "antwortet",
    "erläuterte",
    "sprach",
    "mahnte",
    "verkündete",
    "kündigte",
    "stellte",
    "unterstrich",
    "berichtete",
    "berichtet",
    "beklagte",
    "sagen",
    "erzählte",
    "erzählt",
    "betonten",
    // Spanish
    "dijo",
    "dice",
    "afirmó",
    "afirma",
    "explicó",
    "explica",
    "declaró",
    "declara",
    "señaló",
    "señala",
    "aseguró",
    "asegura",
    "añadió",
    "añade",
    "indicó",
    "indica",
    "agregó",
    "agrega",
    "manifestó",
    "sostuvo",
    "sostiene",
    "advirtió",
    "advierte",
    "apuntó",
    "subrayó",
    "subraya",
    "destacó",
    "destaca",
    "recalcó",
    "insistió",
    "respondió",
    "responde",
    "comentó",
    "comenta",
    "expresó",
    "precisó",
    "reconoció",
    "denunció",
    "lamentó",
    "opinó",
    "escribió",
    "aseveró",
    "admitió",
    "concluyó",
    "prometió",
    "contó",
    "relató",
    "sentenció",
    "zanjó",
    "defendió",
    // Italian, Portuguese
    "detto",
    "dichiarato",
    "affermato",
    "spiegato",
    "aggiunto",
    "disse",
    "afirmou",
    "declarou",
    "explicou",
    "acrescentou",
    "disseram",
    "dizia",
];

/// Words after which the speaker is named: "according to X", "selon X", "según X", "laut X".
pub const CUE_PREPOSITIONS: &[&str] = &[
    "according",
    "selon",
    "d'après",
    "d’après",
    "según",
    "laut",
    "secondo",
    "segundo",
];

/// Postpositions after the speaker's name: "dem Minister zufolge".
const CUE_POSTPOSITIONS: &[&str] = &["zufolge"];

/// German "so", only right after a quote: „…“, so Müller.
const CUE_AFTER_QUOTE_ONLY: &[&str] = &["so"];

/// Auxiliaries kept with the cue verb ("a déclaré", "has said", "ha dicho").
const AUXILIARIES: &[&str] = &[
    "a", "ont", "avait", "has", "have", "had", "hat", "haben", "hatte", "ha", "han", "había",
    "habían", "avrebbe", "è", "was", "is", "s'est", "s’est", "est", "would", "will",
];

/// Adverbs allowed between a subject and its verb ("also said", "später sagte").
const ADVERBS: &[&str] = &[
    "also", "later", "then", "again", "further", "aussi", "encore", "ensuite", "auch", "später",
    "dann", "también", "luego", "después", "anche", "poi", "ainda", "já",
];

/// Subject pronouns (third person) and relative pronouns, lower case.
const PRONOUNS: &[&str] = &[
    // relative pronouns refer back to the name just before: "López, quien añadió"
    "who", "quien", "quienes", "qui", "welcher", "welche", "chi", "he", "she", "they", "il", "elle",
    "ils", "elles", "er", "sie", "él", "ella", "ellos", "ellas", "lui", "lei", "ele", "ela",
];

/// Determiners and possessive markers that may open a role noun phrase.
const DETERMINERS: &[&str] = &[
    "the", "a", "an", "le", "la", "les", "l'", "l’", "un", "une", "der", "die", "das", "den",
    "dem", "ein", "eine", "el", "los", "las", "uno", "una", "il", "lo", "gli", "o", "os", "as",
    "its", "his", "her", "their", "leur", "son", "sa", "ses", "sein", "seine", "ihr", "ihre", "su",
    "sus",
];

/// Role nouns and honorifics, lower case. A word is a role when it ends with one of these, so
/// German compounds (`Innenminister`, `Bundeskanzlerin`) are roles too.
const ROLE_NOUNS: &[&str] = &[
    // English
    "minister",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "president",
    "leader",
    "official",
    "officials",
    "secretary",
    "chancellor",
    "mayor",
    "governor",
    "ambassador",
    "senator",
    "chief",
    "director",
    "ceo",
    "chairman",
    "chairwoman",
    "chair",
    "head",
    "premier",
    "prosecutor",
    "judge",
    "general",
    "commander",
    "manager",
    "coach",
    "lawmaker",
    "deputy",
    "representative",
    "adviser",
    "advisor",
    "envoy",
    "diplomat",
    "spokesperson",
    "king",
    "queen",
    "prince",
    "pope",
    "ayatollah",
    "sheikh",
    "rabbi",
    "cardinal",
    "bishop",
    "sir",
    "lord",
    "dame",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "professor",
    "economist",
    "analyst",
    "expert",
    "engineer",
    "spokesperson",
    "author",
    "founder",
    "captain",
    "officer",
    "witness",
    "police",
    // French
    "ministre",
    "porte-parole",
    "président",
    "présidente",
    "maire",
    "dirigeant",
    "dirigeante",
    "chef",
    "cheffe",
    "secrétaire",
    "ambassadeur",
    "ambassadrice",
    "député",
    "députée",
    "sénateur",
    "sénatrice",
    "directeur",
    "directrice",
    "procureur",
    "procureure",
    "juge",
    "patron",
    "patronne",
    "responsable",
    "syndicaliste",
    "premier",
    "première",
    "maître",
    "général",
    "m",
    "mme",
    "monsieur",
    "madame",
    "avocat",
    "avocate",
    "économiste",
    // German
    "ministerin",
    "sprecher",
    "sprecherin",
    "präsident",
    "präsidentin",
    "kanzler",
    "kanzlerin",
    "bürgermeister",
    "bürgermeisterin",
    "chefin",
    "vorsitzende",
    "vorsitzender",
    "leiter",
    "leiterin",
    "botschafter",
    "botschafterin",
    "abgeordnete",
    "abgeordneter",
    "direktor",
    "direktorin",
    "staatsanwalt",
    "richter",
    "richterin",
    "herr",
    "frau",
    "experte",
    "expertin",
    "ökonom",
    "ökonomin",
    "trainer",
    "trainerin",
    "anwalt",
    "anwältin",
    // Spanish, Italian, Portuguese
    "ministro",
    "ministra",
    "portavoz",
    "presidenta",
    "alcalde",
    "alcaldesa",
    "directora",
    "jefe",
    "jefa",
    "secretario",
    "secretaria",
    "embajador",
    "embajadora",
    "senador",
    "senadora",
    "diputado",
    "diputada",
    "líder",
    "fiscal",
    "juez",
    "jueza",
    "señor",
    "señora",
    "sr",
    "sra",
    "don",
    "doña",
    "portavoce",
    "sindaco",
    "presidente",
    "porta-voz",
    "prefeito",
    "abogado",
    "abogada",
    "economista",
    "entrenador",
    "gerente",
];

/// Closing marks accepted for each opening mark.
fn closers_for(open: char) -> &'static [char] {
    match open {
        '“' => &['”'],
        '„' => &['“', '”'],
        '«' => &['»'],
        '»' => &['«'],
        '‹' => &['›'],
        '›' => &['‹'],
        '‚' => &['‘', '’'],
        '‘' => &['’'],
        '「' => &['」'],
        '『' => &['』'],
        '"' => &['"'],
        '”' => &['”'],
        _ => &[],
    }
}

/// Dashes that introduce dialogue or cut the narrator's words out of it.
fn is_dialogue_dash(c: char) -> bool {
    matches!(c, '—' | '–' | '―')
}

/// Maximum nesting of quote marks tracked; deeper marks are ignored (bounds the stack).
const MAX_NESTING: usize = 8;

/// Quotes of at most this many words with no cue word are taken for scare quotes or titles.
const MIN_WORDS_WITHOUT_CUE: usize = 3;

/// Bytes after a comma of dialogue in which an incise's cue word is looked for.
const INCISE_LOOKAHEAD_BYTES: usize = 64;

/// Quotes past this many in one text get `und` as language: detection is the costly step, and
/// no article has that many quotes, so adversarial input stays fast.
const MAX_QUOTES_WITH_LANGUAGE: usize = 1000;

/// How far (in bytes) a cue may sit after a quote's closing mark to belong to it directly.
const ATTACHED_CUE_DISTANCE: usize = 40;

/// How many earlier speaker mentions a role noun is compared with.
const ROLE_LOOKBACK_MENTIONS: usize = 64;

/// How a found quote was marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkStyle {
    Paired,
    MultiParagraph,
    Dialogue,
}

/// A quote found by its marks, before attribution.
#[derive(Debug, Clone, Copy)]
struct RawQuote {
    span: ByteSpan,
    outer: ByteSpan,
    style: MarkStyle,
}

/// Finds every direct quote in `text` with its speaker, cue verb, language and scores.
pub fn extract_quotes(text: &str, seg: &Segmentation, detector: &LanguageDetector) -> Vec<Quote> {
    let mut quotes = extract_quotes_without_language(text, seg);
    for quote in quotes.iter_mut().take(MAX_QUOTES_WITH_LANGUAGE) {
        quote.language = detector.detect(&quote.text);
    }
    quotes
}

/// [`extract_quotes`] without the per-quote language detection (every `language` is `und`):
/// for callers that label languages themselves, and to time the model-free part alone.
pub fn extract_quotes_without_language(text: &str, seg: &Segmentation) -> Vec<Quote> {
    let raw_quotes = find_quotes(text, seg);
    let quote_spans: Vec<ByteSpan> = raw_quotes.iter().map(|q| q.outer).collect();
    let (cues, mut people) = find_cues(text, seg, &quote_spans);
    // Subjects of cues are people too.
    for cue in &cues {
        match &cue.subject {
            Subject::Named { name, title } => people.named.push(Mention {
                name: *name,
                title: title.clone(),
            }),
            Subject::Role { phrase, .. } => people.roles.push(*phrase),
            Subject::Implicit => {}
        }
    }
    people.named.sort_by_key(|mention| mention.name);
    people.named.dedup_by_key(|mention| mention.name);
    people.roles.sort();
    people.roles.dedup();
    let total = text.len().max(1) as f64;
    let mut quotes = Vec::with_capacity(raw_quotes.len());
    for (index, raw) in raw_quotes.iter().enumerate() {
        let quote_text = raw.span.slice(text);
        let words = quote_text.split_whitespace().count();
        let attribution = attribute(text, seg, raw, index, &raw_quotes, &cues, &people);
        if attribution.is_none() && words < MIN_WORDS_WITHOUT_CUE {
            continue;
        }
        let (speaker, cue_verb) = match attribution {
            Some((speaker, cue)) => (speaker, Some(cue)),
            None => (None, None),
        };
        let mut confidence: f64 = match raw.style {
            MarkStyle::Paired => 0.9,
            MarkStyle::MultiParagraph => 0.85,
            MarkStyle::Dialogue => 0.75,
        };
        confidence *= match speaker.as_ref().map(|s| s.kind) {
            Some(SpeakerKind::Named) => 1.0,
            Some(SpeakerKind::Resolved) => 0.85,
            Some(SpeakerKind::TitleOnly) => 0.8,
            None if cue_verb.is_some() => 0.6,
            None => 0.4,
        };
        let length_score = (words.min(30) as f64 / 30.0).sqrt();
        let speaker_score = match speaker.as_ref().map(|s| s.kind) {
            Some(SpeakerKind::Named) => 1.0,
            Some(SpeakerKind::Resolved) => 0.8,
            Some(SpeakerKind::TitleOnly) => 0.6,
            None => 0.0,
        };
        let position_score = 1.0 - raw.span.start as f64 / total;
        let salience =
            0.4 * length_score + 0.25 * speaker_score + 0.15 * position_score + 0.2 * confidence;
        quotes.push(Quote {
            text: quote_text.to_string(),
            span: raw.span,
            outer_span: raw.outer,
            speaker,
            cue_verb: cue_verb.map(|span| span.slice(text).to_string()),
            language: Detection::undetermined(""),
            confidence: confidence.clamp(0.0, 1.0),
            salience: salience.clamp(0.0, 1.0),
            sentence_index: seg
                .sentence_at(raw.span.start)
                .or_else(|| seg.sentence_at(raw.outer.start))
                .unwrap_or_else(|| nearest_sentence_before(seg, raw.outer.start)),
        });
    }
    quotes
}

fn nearest_sentence_before(seg: &Segmentation, offset: usize) -> usize {
    seg.sentences
        .partition_point(|s| s.span.start <= offset)
        .saturating_sub(1)
}

// ---------------------------------------------------------------------------------------------
// Finding quotes by their marks.

/// An open quote mark on the stack.
#[derive(Debug, Clone, Copy)]
struct OpenMark {
    mark: char,
    /// Offset of the opening mark.
    at: usize,
}

fn find_quotes(text: &str, seg: &Segmentation) -> Vec<RawQuote> {
    let mut quotes = Vec::new();
    // The outermost quote carried over from the previous paragraph, if it continues.
    let mut carried: Option<OpenMark> = None;
    let mut previous_dialogue_accepted = false;
    let mut previous_paragraph_ends_with_colon = false;
    for (paragraph_index, paragraph) in seg.paragraphs.iter().enumerate() {
        let paragraph_text = paragraph.span.slice(text);
        let mut scan_from = paragraph.span.start;
        let mut stack: Vec<OpenMark> = Vec::new();
        let mut continued = false;
        if let Some(open) = carried.take() {
            // Continues only if this paragraph opens with the same mark (or its closer, the
            // French habit of » at the start of continued paragraphs).
            let first = paragraph_text.chars().next();
            if first.is_some_and(|c| c == open.mark || closers_for(open.mark).contains(&c)) {
                stack.push(open);
                scan_from += first.map_or(0, char::len_utf8);
                continued = true;
            }
        }
        let dialogue = !continued && paragraph_text.chars().next().is_some_and(is_dialogue_dash);
        if dialogue {
            let found = dialogue_quotes(text, paragraph.span);
            let accepted = !found.is_empty()
                && (found.iter().any(|(_, has_cue)| *has_cue)
                    || previous_dialogue_accepted
                    || previous_paragraph_ends_with_colon);
            if accepted {
                quotes.extend(found.into_iter().map(|(quote, _)| quote));
            }
            previous_dialogue_accepted = accepted;
        } else {
            previous_dialogue_accepted = false;
            scan_marks(
                text,
                scan_from,
                paragraph.span.end,
                &mut stack,
                &mut |open, close| {
                    // Only a quote carried over from an earlier paragraph opened before this one.
                    let style = if open.at < paragraph.span.start {
                        MarkStyle::MultiParagraph
                    } else {
                        MarkStyle::Paired
                    };
                    push_quote(text, &mut quotes, open.at, open.mark, close, style);
                },
            );
            // An open quote may continue in the next paragraph; otherwise it is dropped.
            if let Some(bottom) = stack.first() {
                if paragraph_index + 1 < seg.paragraphs.len() {
                    carried = Some(*bottom);
                }
            }
        }
        previous_paragraph_ends_with_colon = paragraph_text.trim_end().ends_with(':');
    }
    quotes
}

/// Scans `text[from..to]` for quote marks, calling `emit(open, close_offset)` for each
/// top-level quote closed.
fn scan_marks(
    text: &str,
    from: usize,
    to: usize,
    stack: &mut Vec<OpenMark>,
    emit: &mut dyn FnMut(OpenMark, usize),
) {
    let slice = &text[from..to];
    let mut previous: Option<char> = text[..from].chars().next_back();
    let mut chars = slice.char_indices().peekable();
    while let Some((relative, c)) = chars.next() {
        let at = from + relative;
        let next = chars.peek().map(|&(_, next)| next);
        if let Some(depth) = closing_depth(stack, c, previous, next) {
            let open = stack[depth];
            stack.truncate(depth);
            if depth == 0 {
                emit(open, at);
            }
        } else if stack.len() < MAX_NESTING && can_open(c, previous, next) {
            stack.push(OpenMark { mark: c, at });
        }
        previous = Some(c);
    }
}

/// The depth of the open mark that `c` closes, searching from the innermost.
fn closing_depth(
    stack: &[OpenMark],
    c: char,
    previous: Option<char>,
    next: Option<char>,
) -> Option<usize> {
    if stack.is_empty() {
        return None;
    }
    let looks_like_opener =
        previous.is_none_or(char::is_whitespace) && next.is_some_and(char::is_alphanumeric);
    // An apostrophe inside a word ("don’t") closes nothing.
    if c == '’' && next.is_some_and(char::is_alphanumeric) {
        return None;
    }
    stack
        .iter()
        .rposition(|open| closers_for(open.mark).contains(&c))
        .filter(|&depth| {
            // A mark that looks like an opener (space before, word after) opens a nested quote
            // rather than closing: straight and Swedish marks, or a mark that is its own closer
            // below the innermost quote.
            let symmetric_below = stack[depth].mark == c && depth + 1 != stack.len();
            let ambiguous = matches!(c, '"' | '”') && previous.is_some();
            !(looks_like_opener && (symmetric_below || ambiguous))
        })
}

fn can_open(c: char, previous: Option<char>, next: Option<char>) -> bool {
    let after_boundary = previous.is_none_or(|p| {
        p.is_whitespace()
            || matches!(p, '(' | '[' | '{' | '—' | '–' | '-' | '/' | ':')
            || closers_for(p).is_empty() && is_quote_mark(p)
    });
    let before_content = next.is_some_and(|n| !n.is_whitespace());
    match c {
        '“' | '„' | '«' | '‹' | '‚' | '「' | '『' => next.is_some(),
        // Ambiguous marks open only at a word start.
        '"' | '‘' | '»' | '›' | '”' => after_boundary && before_content,
        _ => false,
    }
}

fn is_quote_mark(c: char) -> bool {
    !closers_for(c).is_empty() || matches!(c, '’' | '」' | '』')
}

/// Records a quote from its opening mark to its closing mark, trimmed of inner spaces.
fn push_quote(
    text: &str,
    quotes: &mut Vec<RawQuote>,
    open_at: usize,
    open_mark: char,
    close_at: usize,
    style: MarkStyle,
) {
    let close_len = text[close_at..].chars().next().map_or(0, char::len_utf8);
    let outer = ByteSpan::new(open_at, close_at + close_len);
    let span = trim_span(
        text,
        ByteSpan::new(open_at + open_mark.len_utf8(), close_at),
    );
    if !span.is_empty() {
        quotes.push(RawQuote { span, outer, style });
    }
}

/// Quotes of a dialogue paragraph opened by a dash; each with whether a cue word appears in
/// the narrator's words of the paragraph.
fn dialogue_quotes(text: &str, paragraph: ByteSpan) -> Vec<(RawQuote, bool)> {
    let paragraph_text = paragraph.slice(text);
    let mut spoken: Vec<ByteSpan> = Vec::new();
    let mut narration_has_cue = false;
    let mut segment_start =
        paragraph.start + paragraph_text.chars().next().map_or(0, char::len_utf8);
    let mut in_narration = false;
    let mut previous: Option<char> = None;
    for (relative, c) in paragraph_text.char_indices().skip(1) {
        let at = paragraph.start + relative;
        if is_dialogue_dash(c) {
            if !in_narration && previous.is_some_and(char::is_whitespace) {
                // Spanish: " —afirmó el ministro—": the narrator speaks until the next dash.
                spoken.push(ByteSpan::new(segment_start, at));
                in_narration = true;
                segment_start = at + c.len_utf8();
            } else if in_narration {
                narration_has_cue |= contains_cue(&text[segment_start..at]);
                in_narration = false;
                segment_start = at + c.len_utf8();
            }
        } else if c == ',' && !in_narration {
            // French: "— Je pars, dit-il." The narrator's incise follows a comma.
            // Only the first words matter; a bounded look keeps long paragraphs linear.
            let rest = crate::language::prefix_on_char_boundary(
                &text[at + 1..paragraph.end],
                INCISE_LOOKAHEAD_BYTES,
            );
            if first_word_is_cue(rest) {
                spoken.push(ByteSpan::new(segment_start, at));
                narration_has_cue = true;
                in_narration = true;
                segment_start = at + 1;
            }
        }
        previous = Some(c);
    }
    if in_narration {
        narration_has_cue |= contains_cue(&text[segment_start..paragraph.end]);
    } else {
        spoken.push(ByteSpan::new(segment_start, paragraph.end));
    }
    spoken
        .into_iter()
        .filter_map(|segment| {
            let span = trim_quote_content(text, segment);
            (!span.is_empty()).then_some((
                RawQuote {
                    span,
                    outer: ByteSpan::new(segment.start.min(span.start), span.end),
                    style: MarkStyle::Dialogue,
                },
                narration_has_cue,
            ))
        })
        .map(|(mut quote, has_cue)| {
            // The outer span starts at the dash that opened the segment when there is one.
            let before = &text[..quote.outer.start];
            if let Some(dash) = before
                .trim_end()
                .chars()
                .next_back()
                .filter(|&c| is_dialogue_dash(c))
            {
                quote.outer.start = before.trim_end().len() - dash.len_utf8();
            }
            (quote, has_cue)
        })
        .collect()
}

/// A dialogue segment without surrounding spaces and the punctuation that joins it to the
/// narrator's words (". Lo haré" → "Lo haré").
fn trim_quote_content(text: &str, span: ByteSpan) -> ByteSpan {
    let slice = span.slice(text);
    let start_trim = slice.len()
        - slice
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | ';'))
            .len();
    let end_trim = slice.len()
        - slice
            .trim_end_matches(|c: char| c.is_whitespace() || c == ',')
            .len();
    if start_trim + end_trim >= slice.len() {
        return ByteSpan::new(span.end, span.end);
    }
    ByteSpan::new(span.start + start_trim, span.end - end_trim)
}

fn contains_cue(text: &str) -> bool {
    words(text, 0)
        .iter()
        .any(|word| cue_kind(word.slice(text)).is_some() || inverted_cue(word.slice(text)))
}

fn first_word_is_cue(text: &str) -> bool {
    words(text, 0).first().is_some_and(|word| {
        let w = word.slice(text);
        inverted_cue(w) || cue_kind(w).is_some() || is_auxiliary(w)
    })
}

// ---------------------------------------------------------------------------------------------
// Words and lexicons.

/// Words of `text` (alphanumeric runs, with inner `-`, `'`, `’` and `.` kept: `Amir-Abdollahian`,
/// `d'après`, `U.S`), as spans shifted by `base`.
fn words(text: &str, base: usize) -> Vec<ByteSpan> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let next_is_alphanumeric = chars.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        let inner = matches!(c, '-' | '\'' | '’' | '.') && start.is_some() && next_is_alphanumeric;
        if c.is_alphanumeric() || inner {
            start.get_or_insert(offset);
        } else if let Some(word_start) = start.take() {
            words.push(ByteSpan::new(base + word_start, base + offset));
        }
    }
    if let Some(word_start) = start {
        words.push(ByteSpan::new(base + word_start, base + text.len()));
    }
    words
}

fn lexicon(
    words: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| words.iter().copied().collect())
}

fn lower(word: &str) -> String {
    word.to_lowercase()
}

fn in_lexicon(
    word: &str,
    list: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> bool {
    // Long words are in none of the lists; skip lower-casing them.
    word.len() <= 24 && lexicon(list, cell).contains(lower(word).as_str())
}

fn is_pronoun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, PRONOUNS, &CELL)
}

fn is_auxiliary(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, AUXILIARIES, &CELL)
}

fn is_adverb(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, ADVERBS, &CELL)
}

fn is_determiner(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, DETERMINERS, &CELL)
}

/// Whether a word is a role noun or honorific, including German compounds ending in one.
fn is_role(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if word.len() > 40 {
        return false;
    }
    let lower = lower(word.trim_end_matches('.'));
    let roles = lexicon(ROLE_NOUNS, &CELL);
    if roles.contains(lower.as_str()) {
        return true;
    }
    // Compounds: a role noun of at least 4 letters ending a longer word.
    lower.char_indices().skip(1).any(|(offset, _)| {
        let tail = &lower[offset..];
        tail.chars().count() >= 4 && roles.contains(tail)
    })
}

fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Possessive proper noun ("Iran's"), which qualifies a role rather than naming a speaker.
fn is_possessive(word: &str) -> bool {
    word.ends_with("'s") || word.ends_with("’s")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CueKind {
    /// A verb; its subject is before it, or after it in an inversion.
    Verb,
    /// The speaker follows ("according to", "selon", "según", German "so").
    Preposition,
    /// The speaker precedes ("X zufolge").
    Postposition,
}

fn cue_kind(word: &str) -> Option<CueKind> {
    static VERBS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static PREPOSITIONS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static POSTPOSITIONS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if in_lexicon(word, CUE_VERBS, &VERBS) {
        Some(CueKind::Verb)
    } else if in_lexicon(word, CUE_PREPOSITIONS, &PREPOSITIONS) {
        Some(CueKind::Preposition)
    } else if in_lexicon(word, CUE_POSTPOSITIONS, &POSTPOSITIONS) {
        Some(CueKind::Postposition)
    } else {
        None
    }
}

/// French inversions: "dit-il", "estime-t-elle", "a-t-il" (before a participle).
fn inverted_cue(word: &str) -> bool {
    let mut parts = word.split('-');
    let first = parts.next().unwrap_or("");
    let last = word.rsplit('-').next().unwrap_or("");
    word.contains('-') && is_pronoun(last) && (cue_kind(first).is_some() || is_auxiliary(first))
}

// ---------------------------------------------------------------------------------------------
// Cues and their subjects.

#[derive(Debug, Clone, PartialEq)]
enum Subject {
    /// A person's name, with the title written before it (lower case) if any.
    Named {
        name: ByteSpan,
        title: Option<String>,
    },
    /// A role noun phrase: its span and its head role word (lower case).
    Role { phrase: ByteSpan, head: String },
    /// A pronoun, or no subject (participle, pro-drop): the speaker was named before.
    Implicit,
}

#[derive(Debug, Clone)]
struct Cue {
    /// The cue word(s) with their auxiliary.
    verb: ByteSpan,
    /// An English participle ("adding", "saying"): it opens a clause about what follows, so
    /// it never attributes the quote before it.
    participle: bool,
    sentence: usize,
    subject: Subject,
}

#[derive(Debug, Clone)]
struct Mention {
    name: ByteSpan,
    title: Option<String>,
}

/// People mentioned in the text, in text order: named ones, and roles written without a name
/// ("The Prime Minister"), which pronouns fall back to when nobody is named.
#[derive(Debug, Default)]
struct People {
    named: Vec<Mention>,
    roles: Vec<ByteSpan>,
}

/// Cue words in the sentences, outside quotes, in text order; and people named with a title
/// ("Mayor Linda Park", "la ministra de Vivienda, Isabel Romero"), who may be referred to later.
fn find_cues(text: &str, seg: &Segmentation, quote_spans: &[ByteSpan]) -> (Vec<Cue>, People) {
    let mut cues = Vec::new();
    let mut people = People::default();
    let mut quote_index = 0;
    for (sentence_index, sentence) in seg.sentences.iter().enumerate() {
        let all_words = words(sentence.span.slice(text), sentence.span.start);
        // Words outside quotes; quote_spans are sorted and do not overlap.
        let mut outside: Vec<ByteSpan> = Vec::with_capacity(all_words.len());
        for word in all_words {
            while quote_index < quote_spans.len() && quote_spans[quote_index].end <= word.start {
                quote_index += 1;
            }
            let inside = quote_spans
                .get(quote_index)
                .is_some_and(|quote| quote.start <= word.start && word.end <= quote.end);
            if !inside {
                outside.push(word);
            }
        }
        titled_mentions(text, &outside, &mut people);
        for (position, &word) in outside.iter().enumerate() {
            let word_text = word.slice(text);
            let subject = if inverted_cue(word_text) {
                // "dit-il": the pronoun is in the word; "a-t-il déclaré" is found at "déclaré".
                if cue_kind(word_text.split('-').next().unwrap_or("")).is_some() {
                    Some((word, Subject::Implicit))
                } else {
                    None
                }
            } else {
                match cue_kind(word_text) {
                    // Verbs are written in lower case; "States" is no cue.
                    Some(CueKind::Verb) if is_capitalized(word_text) => None,
                    Some(CueKind::Verb) => {
                        let subject = if word_text.ends_with("ing") {
                            Subject::Implicit
                        } else {
                            verb_subject(text, &outside, position, quote_spans)
                        };
                        Some((with_auxiliary(text, &outside, position), subject))
                    }
                    Some(CueKind::Preposition) => {
                        let skip = usize::from(word_text.eq_ignore_ascii_case("according"));
                        subject_after(text, &outside, position + 1 + skip)
                            .map(|subject| (word, subject))
                    }
                    Some(CueKind::Postposition) => {
                        subject_before(text, &outside, position).map(|subject| (word, subject))
                    }
                    // "Pour l'économiste X, « … »", "Para el ministro, …", "Für Merz ist …".
                    None if position == 0 && is_opening_viewpoint_word(word_text) => {
                        subject_after(text, &outside, position + 1)
                            .filter(|subject| !matches!(subject, Subject::Implicit))
                            .map(|subject| (word, subject))
                    }
                    None if is_after_quote_cue(text, word, quote_spans) => {
                        subject_after(text, &outside, position + 1).map(|subject| (word, subject))
                    }
                    None => None,
                }
            };
            if let Some((verb, subject)) = subject {
                cues.push(Cue {
                    verb,
                    participle: word_text.ends_with("ing"),
                    sentence: sentence_index,
                    subject,
                });
            }
        }
    }
    (cues, people)
}

/// People named with a title in a sentence's words: a run of capitalised words holding a role
/// ("Secretary Kerry"), or preceded within a few words by one ("spokeswoman Jen Psaki",
/// "la ministra de Vivienda, Isabel Romero").
fn titled_mentions(text: &str, outside: &[ByteSpan], people: &mut People) {
    let mut index = 0;
    while index < outside.len() {
        let starts_run = is_capitalized(outside[index].slice(text));
        if !starts_run {
            index += 1;
            continue;
        }
        let mut end = index + 1;
        while end < outside.len()
            && end - index < 8
            && only_spaces_between(text, outside[end - 1], outside[end])
            && {
                let w = outside[end].slice(text);
                is_capitalized(w) || (is_name_particle(w) && end + 1 < outside.len())
            }
        {
            end += 1;
        }
        while end > index + 1 && !is_capitalized(outside[end - 1].slice(text)) {
            end -= 1;
        }
        let split = split_name_and_title(text, outside, index, end);
        if let Subject::Role { phrase, .. } = split {
            people.roles.push(phrase);
        } else if let Subject::Named { name, title } = split {
            let title = title.or_else(|| role_complement_before(text, outside, index));
            let run_has_role = (index..end).any(|i| is_role(outside[i].slice(text)));
            if title.is_some() || run_has_role {
                people.named.push(Mention { name, title });
            }
        }
        index = end;
    }
}

/// The role written before a name as "role [of Complement][,] Name" ("la ministra de
/// Vivienda, Isabel Romero"), lower case, without the comma.
fn role_complement_before(text: &str, outside: &[ByteSpan], run_start: usize) -> Option<String> {
    let window = run_start.saturating_sub(4)..run_start;
    let role_index = window
        .clone()
        .rev()
        .find(|&i| is_role(outside[i].slice(text)))?;
    let between = &outside[role_index + 1..run_start];
    let complement_ok = between
        .first()
        .is_none_or(|w| is_preposition(w.slice(text)))
        && between.iter().all(|w| {
            let w = w.slice(text);
            is_preposition(w) || is_determiner(w) || (is_capitalized(w) && cue_kind(w).is_none())
        });
    let gap = &text[outside[role_index].end..outside[run_start].start];
    // "ministre des Transports, Claire Dubois" (apposition after a complement) or "spokeswoman
    // Jen Psaki"; not "secrétaire général de la CFDT", where the run is the complement.
    let commas = gap.matches(',').count();
    let comma_right_before_run = text[..outside[run_start].start].trim_end().ends_with(',');
    let gap_ok = gap
        .chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || matches!(c, ',' | '-' | '\'' | '’'))
        && if between.is_empty() {
            commas == 0
        } else {
            commas == 1 && comma_right_before_run
        };
    (complement_ok && gap_ok).then(|| {
        lower(
            text[outside[role_index].start..outside[run_start].start].trim_end_matches([' ', ',']),
        )
    })
}

/// Prepositions that, opening a sentence, give whose view it states: "Pour X, …".
fn is_opening_viewpoint_word(word: &str) -> bool {
    matches!(word, "Pour" | "Para" | "Für" | "For" | "Per")
}

/// German "so" right after a closing quote mark (and a comma).
fn is_after_quote_cue(text: &str, word: ByteSpan, quote_spans: &[ByteSpan]) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if !in_lexicon(word.slice(text), CUE_AFTER_QUOTE_ONLY, &CELL) {
        return false;
    }
    let index = quote_spans.partition_point(|q| q.end <= word.start);
    index > 0 && {
        let between = &text[quote_spans[index - 1].end..word.start];
        between.len() <= 4 && between.chars().all(|c| c.is_whitespace() || c == ',')
    }
}

/// The cue verb's span, widened to an auxiliary just before it ("a déclaré").
fn with_auxiliary(text: &str, outside: &[ByteSpan], position: usize) -> ByteSpan {
    let verb = outside[position];
    match position.checked_sub(1).map(|p| outside[p]) {
        Some(previous)
            if is_auxiliary(previous.slice(text)) && only_spaces_between(text, previous, verb) =>
        {
            ByteSpan::new(previous.start, verb.end)
        }
        _ => verb,
    }
}

fn only_spaces_between(text: &str, first: ByteSpan, second: ByteSpan) -> bool {
    first.end <= second.start
        && text[first.end..second.start]
            .chars()
            .all(char::is_whitespace)
}

/// Whether a closing quote mark (or only spaces and commas) lies right before `word`.
fn follows_quote(text: &str, word: ByteSpan, quote_spans: &[ByteSpan]) -> bool {
    let index = quote_spans.partition_point(|q| q.end <= word.start);
    index > 0 && {
        let between = &text[quote_spans[index - 1].end..word.start];
        between.len() <= 8
            && between
                .chars()
                .all(|c| c.is_whitespace() || matches!(c, ',' | ';') || is_dialogue_dash(c))
    }
}

/// The subject of the cue verb at `position`: before it, or after it in an inversion
/// (`"…", said Smith`, `«…», a déclaré le ministre`, `„…“, sagte Müller`).
fn verb_subject(
    text: &str,
    outside: &[ByteSpan],
    position: usize,
    quote_spans: &[ByteSpan],
) -> Subject {
    let mut start = position;
    // Skip the auxiliary and adverbs between subject and verb.
    while start > 0 && {
        let previous = outside[start - 1].slice(text);
        (is_auxiliary(previous) || is_adverb(previous))
            && only_spaces_between(text, outside[start - 1], outside[start])
    } {
        start -= 1;
    }
    let inverted = follows_quote(text, outside[start], quote_spans);
    if !inverted {
        if let Some(subject) = subject_before(text, outside, start)
            .or_else(|| subject_before_parenthetical(text, outside, start))
        {
            return subject;
        }
    }
    if let Some(subject) = subject_after(text, outside, position + 1) {
        // "afirmó el ministro." is an inversion; "says minister X told …" is not.
        let ends_clause = |span: ByteSpan| {
            text[span.end..]
                .chars()
                .find(|c| !c.is_whitespace())
                .is_none_or(|c| !c.is_alphanumeric())
        };
        let clause_end = match &subject {
            Subject::Named { name, .. } => ends_clause(*name),
            Subject::Role { phrase, .. } => ends_clause(*phrase),
            Subject::Implicit => false,
        };
        if inverted || clause_end {
            return subject;
        }
    }
    Subject::Implicit
}

/// Words a parenthetical may span between a subject and its verb.
const MAX_PARENTHETICAL_WORDS: usize = 20;

/// The subject before a comma-delimited parenthetical that ends right before the verb:
/// "Robert Hale, who voted against the measure, said", "O'Neill, a retired teacher, said".
fn subject_before_parenthetical(
    text: &str,
    outside: &[ByteSpan],
    position: usize,
) -> Option<Subject> {
    let previous = *outside.get(position.checked_sub(1)?)?;
    let gap = &text[previous.end..outside[position].start];
    if gap.trim() != "," {
        return None;
    }
    // The comma that opens the parenthetical: the nearest one before, within a few words.
    let lowest = position.saturating_sub(MAX_PARENTHETICAL_WORDS).max(1);
    let opening = (lowest..position - 1)
        .rev()
        .find(|&i| text[outside[i - 1].end..outside[i].start].trim() == ",")?;
    match subject_before_comma(text, outside, opening)? {
        subject @ (Subject::Named { .. } | Subject::Role { .. }) => Some(subject),
        Subject::Implicit => None,
    }
}

/// The subject ending right before the comma that precedes `outside[position]`.
fn subject_before_comma(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    let previous = *outside.get(position.checked_sub(1)?)?;
    if !is_capitalized(previous.slice(text)) && !is_role(previous.slice(text)) {
        return None;
    }
    // Re-run the plain search with an empty stand-in for the verb right before the comma.
    let mut words_before: Vec<ByteSpan> = outside[position.saturating_sub(8)..position].to_vec();
    words_before.push(ByteSpan::new(previous.end, previous.end));
    let last = words_before.len() - 1;
    subject_before(text, &words_before, last)
}

/// The subject that ends right before `outside[position]`, if there is one.
fn subject_before(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    let previous = *outside.get(position.checked_sub(1)?)?;
    if !only_spaces_between(text, previous, outside[position]) {
        return None;
    }
    let previous_text = previous.slice(text);
    if is_pronoun(previous_text) {
        return Some(Subject::Implicit);
    }
    // Collect the noun phrase leftwards: capitalised words, then lower-case modifiers and roles.
    let mut first = position - 1;
    while first > 0
        && position - first < 8
        && only_spaces_between(text, outside[first - 1], outside[first])
        && {
            let w = outside[first - 1].slice(text);
            (is_capitalized(w) && !is_determiner(w) && cue_kind(w).is_none())
                || (is_capitalized(outside[first].slice(text)) && is_name_particle(w))
        }
    {
        first -= 1;
    }
    if is_capitalized(previous_text) {
        return Some(split_name_and_title(text, outside, first, position));
    }
    // A lower-case role noun phrase: "Iran's supreme leader", "the Transport minister",
    // "le porte-parole du gouvernement" (the role up to three words before the verb).
    // Otherwise a lower-case noun right before the verb is a subject that names no person
    // ("the statement said", "the agency says"); it is returned as it is written.
    let mut head_index = position - 1;
    while !is_role(outside[head_index].slice(text)) {
        if head_index == 0
            || position - head_index > 3
            || !only_spaces_between(text, outside[head_index - 1], outside[head_index])
        {
            head_index = position - 1;
            if !is_content_noun_candidate(previous_text) {
                return None;
            }
            break;
        }
        head_index -= 1;
    }
    let head = outside[head_index].slice(text);
    let mut phrase_start = head_index;
    while phrase_start > 0
        && head_index - phrase_start < 5
        && only_spaces_between(text, outside[phrase_start - 1], outside[phrase_start])
    {
        let w = outside[phrase_start - 1].slice(text);
        if is_determiner(w) || is_possessive(w) {
            phrase_start -= 1;
            break;
        }
        if cue_kind(w).is_some() || is_pronoun(w) || is_auxiliary(w) {
            break;
        }
        phrase_start -= 1;
    }
    Some(Subject::Role {
        phrase: ByteSpan::new(outside[phrase_start].start, previous.end),
        head: lower(head),
    })
}

/// Prepositions that end a title leftwards ("ambassador in Iraq" has no title "in").
fn is_preposition(word: &str) -> bool {
    matches!(
        word,
        "in" | "of"
            | "at"
            | "for"
            | "to"
            | "from"
            | "with"
            | "on"
            | "by"
            | "de"
            | "du"
            | "des"
            | "à"
            | "au"
            | "aux"
            | "en"
            | "von"
            | "für"
            | "mit"
            | "im"
            | "am"
            | "zu"
            | "del"
            | "a"
            | "con"
            | "por"
            | "para"
            | "di"
            | "da"
            | "per"
    )
}

/// Function words that cannot head a subject noun phrase ("and said", "que dijo").
fn is_function_word(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    const WORDS: &[&str] = &[
        "and", "but", "or", "that", "which", "who", "as", "it", "this", "also", "not", "et",
        "mais", "ou", "que", "qui", "ce", "und", "aber", "oder", "dass", "wie", "es", "y", "pero",
        "como", "lo", "e", "ma", "che", "non", "ne", "nicht", "no",
    ];
    in_lexicon(word, WORDS, &CELL)
}

/// A lower-case word that may head a subject noun phrase naming no person.
fn is_content_noun_candidate(word: &str) -> bool {
    !is_capitalized(word)
        && word.chars().count() >= 4
        && word.chars().all(char::is_alphabetic)
        && !is_function_word(word)
        && !is_preposition(word)
        && !is_determiner(word)
        && !is_auxiliary(word)
        && !is_adverb(word)
        && cue_kind(word).is_none()
}

/// Words inside names that are written in lower case ("al-Assad", "de", "von", "van").
fn is_name_particle(word: &str) -> bool {
    matches!(
        word,
        "de" | "del"
            | "della"
            | "di"
            | "da"
            | "von"
            | "van"
            | "der"
            | "den"
            | "du"
            | "des"
            | "la"
            | "le"
            | "al"
            | "el"
            | "bin"
            | "ibn"
            | "y"
    )
}

/// Splits capitalised words `outside[first..end]` into a title (roles, possessives,
/// determiners) and the name after it.
fn split_name_and_title(text: &str, outside: &[ByteSpan], first: usize, end: usize) -> Subject {
    let name_start = (first..end)
        .rev()
        .find(|&index| {
            let w = outside[index].slice(text);
            is_role(w) || is_possessive(w) || is_determiner(w)
        })
        .map_or(first, |index| index + 1);
    // Lower-case title words just before the capitalised run ("spokeswoman Jen Psaki").
    let mut title_start = first;
    while title_start > 0
        && first - title_start < 4
        && only_spaces_between(text, outside[title_start - 1], outside[title_start])
        && {
            let w = outside[title_start - 1].slice(text);
            !is_capitalized(w)
                && !is_determiner(w)
                && !is_preposition(w)
                && cue_kind(w).is_none()
                && !is_pronoun(w)
        }
    {
        title_start -= 1;
    }
    let title_words: Vec<&str> = (title_start..name_start)
        .map(|i| outside[i].slice(text))
        .collect();
    let has_role = title_words.iter().any(|w| is_role(w));
    let title = has_role.then(|| lower(&title_words.join(" ")));
    if name_start >= end {
        // Only title words: "Der Minister sagte", "the Chancellor said", "Ihr Sprecher".
        let head = outside[end - 1].slice(text);
        let phrase_start = match first.checked_sub(1).map(|i| outside[i]) {
            Some(determiner)
                if is_determiner(determiner.slice(text))
                    && only_spaces_between(text, determiner, outside[first]) =>
            {
                determiner.start
            }
            _ => outside[first].start,
        };
        return Subject::Role {
            phrase: ByteSpan::new(phrase_start, outside[end - 1].end),
            head: lower(head),
        };
    }
    Subject::Named {
        name: ByteSpan::new(outside[name_start].start, outside[end - 1].end),
        title,
    }
}

/// Words a subject after its cue may span ("la ministra de Trabajo").
const MAX_SUBJECT_AFTER_WORDS: usize = 8;

/// The subject starting at `outside[position]` (after an inverted verb or a preposition):
/// a name, possibly after role words ("Bürgermeisterin Anna Schmidt", "el economista Luis
/// Herrera"); a role phrase ("le ministre"), possibly followed by the name in apposition ("la
/// ministra de Trabajo, Yolanda Díaz"); or a pronoun ("dit-il", "she").
fn subject_after(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    let first = *outside.get(position)?;
    if position > 0 && !only_spaces_between(text, outside[position - 1], first) {
        return None;
    }
    let first_text = first.slice(text);
    if is_pronoun(first_text) || inverted_cue(first_text) {
        return Some(Subject::Implicit);
    }
    // The words joined to the first by spaces only.
    let mut end = position + 1;
    while end < outside.len()
        && end - position < MAX_SUBJECT_AFTER_WORDS
        && only_spaces_between(text, outside[end - 1], outside[end])
    {
        end += 1;
    }
    let mut last_role: Option<usize> = None;
    let mut index = position;
    while index < end {
        let w = outside[index].slice(text);
        let after_preposition = index > position && is_preposition(outside[index - 1].slice(text));
        if is_role(w) {
            last_role = Some(index);
        } else if is_capitalized(w) && !is_determiner(w) && !after_preposition {
            // A name, if nothing but determiners, modifiers and roles came before it.
            if index == position || last_role.is_some() {
                let name_end = name_run_end(text, outside, index, end);
                return Some(Subject::Named {
                    name: ByteSpan::new(outside[index].start, outside[name_end - 1].end),
                    title: (index > position)
                        .then(|| lower(&text[first.start..outside[index - 1].end])),
                });
            }
        } else if is_capitalized(w) && after_preposition {
            // A complement ("de Trabajo", "at KPMG"): part of the role phrase, not a name.
            index = name_run_end(text, outside, index, end);
            continue;
        } else if cue_kind(w).is_some() || is_pronoun(w) {
            break;
        }
        index += 1;
    }
    let Some(role_end) = last_role else {
        // A determiner and a common noun naming no person: "preguntó un periodista".
        let noun = outside
            .get(position + 1)
            .filter(|_| is_determiner(first_text) && end > position + 1)?;
        return is_content_noun_candidate(noun.slice(text)).then(|| Subject::Role {
            phrase: ByteSpan::new(first.start, noun.end),
            head: lower(noun.slice(text)),
        });
    };
    // The phrase runs to the role and its complement; a name may follow after a comma.
    let phrase_end = if index > role_end {
        index.min(end)
    } else {
        role_end + 1
    };
    let phrase = ByteSpan::new(first.start, outside[phrase_end - 1].end);
    if let Some(&next) = outside.get(phrase_end) {
        let gap = &text[outside[phrase_end - 1].end..next.start];
        if gap.trim() == "," && is_capitalized(next.slice(text)) && !is_role(next.slice(text)) {
            let name_end = name_run_end(text, outside, phrase_end, outside.len());
            return Some(Subject::Named {
                name: ByteSpan::new(next.start, outside[name_end - 1].end),
                title: Some(lower(phrase.slice(text))),
            });
        }
    }
    Some(Subject::Role {
        phrase,
        head: lower(outside[role_end].slice(text)),
    })
}

/// The end of the run of capitalised words (and name particles) starting at `start`.
fn name_run_end(text: &str, outside: &[ByteSpan], start: usize, limit: usize) -> usize {
    let mut end = start + 1;
    while end < limit.min(outside.len())
        && end - start < 5
        && only_spaces_between(text, outside[end - 1], outside[end])
        && {
            let w = outside[end].slice(text);
            (is_capitalized(w) && !is_role(w)) || (is_name_particle(w) && end + 1 < outside.len())
        }
    {
        end += 1;
    }
    // A name does not end with a particle.
    while end > start + 1 && is_name_particle(outside[end - 1].slice(text)) {
        end -= 1;
    }
    end
}

// ---------------------------------------------------------------------------------------------
// Attribution.

/// The speaker and cue of quote `index`, or None when no cue belongs to it.
fn attribute(
    text: &str,
    seg: &Segmentation,
    quote: &RawQuote,
    index: usize,
    quotes: &[RawQuote],
    cues: &[Cue],
    people: &People,
) -> Option<(Option<Speaker>, ByteSpan)> {
    let open_sentence = seg.sentence_at(quote.outer.start);
    let close_sentence = seg.sentence_at(quote.outer.end.saturating_sub(1));
    let next_quote_start = quotes.get(index + 1).map_or(text.len(), |q| q.outer.start);
    let previous_quote_end = index.checked_sub(1).map_or(0, |i| quotes[i].outer.end);

    // 1. A cue right after the closing mark, in the same sentence, before the next quote.
    let after = cues.partition_point(|cue| cue.verb.start < quote.outer.end);
    let attached_after = cues.get(after).filter(|cue| {
        Some(cue.sentence) == close_sentence
            && cue.verb.start < next_quote_start
            && cue.verb.start - quote.outer.end <= ATTACHED_CUE_DISTANCE
            && !cue.participle
            && !introduces(text, cue, next_quote_start)
    });
    // 2. The nearest cue before the opening mark in the same sentence.
    let before_quote = cues.partition_point(|cue| cue.verb.start < quote.outer.start);
    let last_before = before_quote.checked_sub(1).map(|i| &cues[i]);
    let before = last_before.filter(|cue| Some(cue.sentence) == open_sentence);
    // 3. Any later cue in the closing sentence before the next quote.
    let later_after = cues
        .get(after)
        .filter(|cue| Some(cue.sentence) == close_sentence && cue.verb.start < next_quote_start);
    // 4. The last cue of the previous sentence, when no other quote lies in between.
    let previous_sentence = open_sentence.and_then(|s| s.checked_sub(1));
    let from_previous = last_before.filter(|cue| {
        Some(cue.sentence) == previous_sentence && cue.verb.end >= previous_quote_end
    });
    let cue = attached_after
        .or(before)
        .or(later_after)
        .or(from_previous)?;
    let speaker = resolve(text, cue, cues, people);
    Some((speaker, cue.verb))
}

/// Whether the cue stands right before the quote starting at `next_quote_start`
/// (`which he says "…"`): then it introduces that quote, not the one before.
fn introduces(text: &str, cue: &Cue, next_quote_start: usize) -> bool {
    next_quote_start >= cue.verb.end
        && text[cue.verb.end..next_quote_start]
            .chars()
            .all(|c| c.is_whitespace() || matches!(c, ',' | ':'))
}

/// The speaker a cue's subject refers to.
fn resolve(text: &str, cue: &Cue, cues: &[Cue], people: &People) -> Option<Speaker> {
    let mentions = &people.named;
    match &cue.subject {
        Subject::Named { name, title } => Some(Speaker {
            name: name.slice(text).to_string(),
            span: *name,
            kind: SpeakerKind::Named,
            title: title.clone(),
        }),
        Subject::Implicit => {
            // The main clause's named subject in the same sentence ("X said …, adding"),
            // else the last person named before, else the last role written without a name.
            let cue_index = cues.partition_point(|other| other.verb.start < cue.verb.start);
            let same_sentence = cues[..cue_index]
                .iter()
                .rev()
                .take_while(|other| other.sentence == cue.sentence)
                .find(|other| matches!(other.subject, Subject::Named { .. }));
            let mention = match same_sentence.map(|c| &c.subject) {
                Some(Subject::Named { name, title }) => Some(Mention {
                    name: *name,
                    title: title.clone(),
                }),
                _ => last_mention_before(mentions, cue.verb.start, |_| true).cloned(),
            };
            match mention {
                Some(mention) => Some(resolved_speaker(text, &mention, mentions, cue.verb.start)),
                None => {
                    let before = people
                        .roles
                        .partition_point(|role| role.start < cue.verb.start);
                    let role = *people.roles[..before].last()?;
                    Some(title_only(text, role))
                }
            }
        }
        Subject::Role { phrase, head } => {
            let fitting = last_mention_before(mentions, cue.verb.start, |mention| {
                mention
                    .title
                    .as_deref()
                    .is_some_and(|title| title.contains(head.as_str()))
            });
            match fitting {
                Some(mention) => Some(resolved_speaker(text, mention, mentions, cue.verb.start)),
                None => Some(title_only(text, *phrase)),
            }
        }
    }
}

fn title_only(text: &str, phrase: ByteSpan) -> Speaker {
    Speaker {
        name: phrase.slice(text).to_string(),
        span: phrase,
        kind: SpeakerKind::TitleOnly,
        title: Some(lower(phrase.slice(text))),
    }
}

/// The last of the (at most [`ROLE_LOOKBACK_MENTIONS`]) mentions before `offset` that fits.
fn last_mention_before(
    mentions: &[Mention],
    offset: usize,
    fits: impl Fn(&Mention) -> bool,
) -> Option<&Mention> {
    let end = mentions.partition_point(|m| m.name.start < offset);
    mentions[..end]
        .iter()
        .rev()
        .take(ROLE_LOOKBACK_MENTIONS)
        .find(|mention| fits(mention))
}

/// A resolved speaker, named as in the latest mention of the same person (same last word).
fn resolved_speaker(text: &str, mention: &Mention, mentions: &[Mention], offset: usize) -> Speaker {
    let surname = |m: &Mention| {
        m.name
            .slice(text)
            .split_whitespace()
            .last()
            .unwrap_or("")
            .to_string()
    };
    let wanted = surname(mention);
    let latest = last_mention_before(mentions, offset, |m| surname(m) == wanted).unwrap_or(mention);
    Speaker {
        name: latest.name.slice(text).to_string(),
        span: latest.name,
        kind: SpeakerKind::Resolved,
        title: mention.title.clone().or_else(|| latest.title.clone()),
    }
}
