//! Cue words ("said", "a déclaré", "según", „…“, so) in the text outside quotes, each with
//! the subject written next to it, and the people the text names: with a title ("Mayor Linda
//! Park") or as the subject of a cue.

use super::lexicon::{
    cue_kind, inverted_cue, is_auxiliary, is_conjunction, is_cue_after_quote_only,
    is_definite_article, is_determiner, is_name_particle, is_organisation, is_person_noun,
    is_plural_pronoun, is_possessive, is_preposition, is_pronoun, is_role,
    is_unnamed_mention_article, lower, words, CueKind,
};
use super::subjects::{
    only_spaces_between, pronoun_subject, role_complement_before, split_name_and_title,
    subject_after, subject_before, verb_subject, Subject,
};
use super::word_lists::OPENING_VIEWPOINT_WORDS;
use crate::names::is_capitalized;
use crate::segment::Segmentation;
use crate::ByteSpan;

/// A cue word found outside quotes.
#[derive(Debug, Clone)]
pub(super) struct Cue {
    /// The cue word(s) with their auxiliary.
    pub(super) verb: ByteSpan,
    /// An English participle ("adding", "saying"): it opens a clause about what follows, so
    /// it never attributes the quote before it.
    pub(super) participle: bool,
    /// Index of the sentence the cue is in.
    pub(super) sentence: usize,
    pub(super) subject: Subject,
}

/// A person named in the text, with the title written next to the name (lower case) if any.
#[derive(Debug, Clone)]
pub(super) struct Mention {
    pub(super) name: ByteSpan,
    pub(super) title: Option<String>,
}

/// People mentioned in the text, in text order: named ones, and roles written without a name
/// ("The Prime Minister"), which pronouns fall back to when nobody is named.
#[derive(Debug, Default)]
pub(super) struct People {
    /// Sorted by where the name is written, each place once.
    pub(super) named: Vec<Mention>,
    /// Sorted, each phrase once.
    pub(super) roles: Vec<ByteSpan>,
    /// People written only as an article and a role or person noun, with no name ("un
    /// bénévole", "a volunteer", "ein Anwohner"): sorted, each phrase once. A dropped subject
    /// or a pronoun after one refers to it rather than to a person named before it.
    pub(super) unnamed: Vec<ByteSpan>,
}

/// Cue words in the sentences, outside quotes, in text order; and the people of the text:
/// those named with a title ("Mayor Linda Park", "la ministra de Vivienda, Isabel Romero") and
/// the subjects of cues, who may be referred to later.
pub(super) fn find_cues(
    text: &str,
    seg: &Segmentation,
    quote_spans: &[ByteSpan],
) -> (Vec<Cue>, People) {
    let mut cues = Vec::new();
    let mut people = People::default();
    let mut quote_index = 0;
    // Capitalised words opening a sentence before a lower-case word ("Mancuso ha affidato…"):
    // the subject of that sentence when they are the surname of someone named before.
    let mut openers: Vec<ByteSpan> = Vec::new();
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
        unnamed_mentions(text, &outside, &mut people);
        if let [first, second, ..] = outside[..] {
            if first.start == sentence.span.start
                && is_capitalized(first.slice(text))
                && !is_capitalized(second.slice(text))
                && only_spaces_between(text, first, second)
            {
                openers.push(first);
            }
        }
        for (position, &word) in outside.iter().enumerate() {
            let word_text = word.slice(text);
            let subject = if inverted_cue(word_text) {
                // "dit-il": the pronoun is in the word; "a-t-il déclaré" is found at "déclaré".
                if cue_kind(word_text.split('-').next().unwrap_or("")).is_some() {
                    Some((word, pronoun_subject(text, word)))
                } else {
                    None
                }
            } else {
                match cue_kind(word_text) {
                    // Verbs are written in lower case ("States" is no cue), except opening a
                    // sentence with a dropped subject: "Añadió que…", "Reconoció, no obstante…".
                    Some(CueKind::Verb) if is_capitalized(word_text) && position > 0 => None,
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
        if let Some(cue) = colon_cue(
            text,
            &outside,
            sentence.span,
            sentence_index,
            quote_spans,
            &cues,
        ) {
            cues.push(cue);
        }
    }
    // A colon's cue stands before cues found earlier in its sentence.
    cues.sort_by_key(|cue| cue.verb.start);
    // Subjects of cues are people too.
    for cue in &cues {
        match &cue.subject {
            Subject::Named { name, title } => people.named.push(Mention {
                name: *name,
                title: title.clone(),
            }),
            // "they" is several people, no role a later pronoun could refer to.
            Subject::Role { head, .. } if is_plural_pronoun(head) => {}
            Subject::Role { phrase, .. } => people.roles.push(*phrase),
            Subject::Implicit => {}
        }
    }
    people.named.sort_by_key(|mention| mention.name);
    people.named.dedup_by_key(|mention| mention.name);
    let surname_openers: Vec<Mention> = openers
        .iter()
        .filter(|opener| {
            let surname = opener.slice(text);
            let before = people
                .named
                .partition_point(|m| m.name.start < opener.start);
            people.named[..before].iter().any(|mention| {
                let mut parts = mention.name.slice(text).split_whitespace();
                parts.clone().count() >= 2 && parts.next_back() == Some(surname)
            })
        })
        .map(|&opener| Mention {
            name: opener,
            title: None,
        })
        .collect();
    if !surname_openers.is_empty() {
        people.named.extend(surname_openers);
        people.named.sort_by_key(|mention| mention.name);
        people.named.dedup_by_key(|mention| mention.name);
    }
    people.roles.sort();
    people.roles.dedup();
    people.unnamed.sort();
    people.unnamed.dedup();
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
                // "Rafael Mora y Lucía Pardo" is two people ("Ortega y Gasset" is one).
                let second_name_follows = is_conjunction(w)
                    && end - index >= 2
                    && (end + 1..end + 3).all(|i| {
                        outside
                            .get(i)
                            .is_some_and(|n| is_capitalized(n.slice(text)))
                    });
                is_capitalized(w)
                    || (is_name_particle(w) && end + 1 < outside.len() && !second_name_follows)
            }
        {
            end += 1;
        }
        while end > index + 1 && !is_capitalized(outside[end - 1].slice(text)) {
            end -= 1;
        }
        let split = split_name_and_title(text, outside, index, end);
        if let Some(mention) = described_name(text, outside, index, end) {
            // "le Danois Anders Kjeldsen", "Le Français Mathis Delorme a remporté": a noun
            // of nationality or description, then the person's full name.
            people.named.push(mention);
        } else if let Subject::Role { phrase, .. } = split {
            people.roles.push(phrase);
        } else if let (Subject::Implicit, Some(&next)) = (&split, outside.get(end)) {
            // "El alcalde habló": a capitalised determiner and a lower-case role after it.
            if is_role(next.slice(text)) && only_spaces_between(text, outside[end - 1], next) {
                people
                    .roles
                    .push(ByteSpan::new(outside[index].start, next.end));
            }
        } else if let Subject::Named { name, title } = split {
            let title = title.or_else(|| role_complement_before(text, outside, index));
            let run_has_role = (index..end).any(|i| is_role(outside[i].slice(text)));
            // A run of two name words or more set off by punctuation ("…, Amparo Sellés, se
            // desplazó"): a person the text names, whom a later cue with no subject may refer to.
            // Not governed by a preposition or a determiner ("de Madrid", "die Stadt Leipzig"),
            // and closed by punctuation as names in apposition are ("arriva Gianluca Sarti, 46
            // anni"): capitals running into the clause are as often nouns ("der größten
            // Solarparks Europas in Betrieb").
            let governed = index > 0 && {
                let w = outside[index - 1].slice(text);
                (is_preposition(w) || is_determiner(w))
                    && only_spaces_between(text, outside[index - 1], outside[index])
            };
            let runs_on = outside
                .get(end)
                .is_some_and(|&next| only_spaces_between(text, outside[end - 1], next));
            // "Na sala de espera, Albertina Gomes aguardava …": after a comma and before a
            // lower-case verb, a two- or three-word run is the clause's subject.
            let subject_after_comma = index > 0
                && text[outside[index - 1].end..outside[index].start].trim() == ","
                && (2..=3).contains(&(end - index))
                && outside.get(end).is_some_and(|&next| {
                    let w = next.slice(text);
                    !is_capitalized(w)
                        && !is_conjunction(w)
                        && !is_preposition(w)
                        && !is_determiner(w)
                        && !is_pronoun(w)
                });
            let governed = governed || (runs_on && !subject_after_comma);
            let name_words = text[name.start..name.end].split_whitespace().count();
            if title.is_some() || run_has_role || (name_words >= 2 && !governed) {
                people.named.push(Mention { name, title });
            }
        }
        index = end;
    }
}

/// A determiner, one capitalised noun and a name of two words ("le Danois Anders Kjeldsen",
/// "Le Français Mathis Delorme", "der Däne Lars Holm"): the name, described by the noun.
/// The determiner opens the run (capitalised, opening a sentence) or stands right before it.
fn described_name(text: &str, outside: &[ByteSpan], index: usize, end: usize) -> Option<Mention> {
    let (determiner, noun) = if is_determiner(outside[index].slice(text)) {
        (index, index + 1)
    } else {
        let before = index.checked_sub(1)?;
        let determiner_text = outside[before].slice(text);
        if !is_determiner(determiner_text)
            || is_capitalized(determiner_text)
            || !only_spaces_between(text, outside[before], outside[index])
        {
            return None;
        }
        (before, index)
    };
    if noun + 3 != end {
        return None;
    }
    let name = noun + 1..end;
    let plain = |i: usize| {
        let w = outside[i].slice(text);
        !is_role(w) && !is_organisation(w) && !is_determiner(w) && cue_kind(w).is_none()
    };
    let noun_text = outside[noun].slice(text);
    let ok = name.len() == 2
        && determiner < noun
        && is_capitalized(noun_text)
        && !is_role(noun_text)
        && name
            .clone()
            .all(|i| plain(i) && is_capitalized(outside[i].slice(text)));
    ok.then(|| Mention {
        name: ByteSpan::new(outside[name.start].start, outside[end - 1].end),
        title: Some(lower(noun_text)),
    })
}

/// Words between an article and the noun of an unnamed mention ("una giovane insegnante").
const MAX_UNNAMED_MODIFIERS: usize = 2;

/// Words after an unnamed mention's noun within which a titled name means the noun is that
/// person's title ("le préfet de la région, Olivier Marchal").
const UNNAMED_NAME_WINDOW: usize = 10;

/// People written as an article and a role or person noun with no name after it ("un
/// bénévole", "uma utente", "a volunteer", "ein Anwohner"), in a sentence's words. The article
/// is lower case, or capitalised only opening the sentence.
fn unnamed_mentions(text: &str, outside: &[ByteSpan], people: &mut People) {
    for (index, &article) in outside.iter().enumerate() {
        let article_text = article.slice(text);
        if !is_unnamed_mention_article(article_text) || (index > 0 && is_capitalized(article_text))
        {
            continue;
        }
        let Some(head) = (index + 1..outside.len())
            .take(MAX_UNNAMED_MODIFIERS + 1)
            .take_while(|&i| only_spaces_between(text, outside[i - 1], outside[i]))
            .find(|&i| {
                let w = outside[i].slice(text);
                // A body opening a sentence is its subject ("La Direction générale de
                // l'aviation civile a demandé …"): a later pronoun may stand for it.
                is_role(w) || is_person_noun(w) || (index == 0 && is_organisation(w))
            })
        else {
            continue;
        };
        // Modifiers are lower-case words that are no cue, pronoun or determiner ("una giovane
        // insegnante"; not "a su madre", where "a" is a preposition). "Il juge": a verb.
        let modifiers_ok = outside[index + 1..head].iter().all(|w| {
            let w = w.slice(text);
            !is_capitalized(w)
                && cue_kind(w).is_none()
                && !is_pronoun(w)
                && !is_determiner(w)
                && !is_possessive(w)
        });
        if !modifiers_ok || cue_kind(outside[head].slice(text)).is_some() {
            continue;
        }
        // "Mathis Delorme, le coureur de 24 ans,": an apposition to the name before it.
        let apposition = index > 0 && {
            let previous = outside[index - 1].slice(text);
            is_capitalized(previous)
                && !is_pronoun(previous)
                && text[outside[index - 1].end..article.start].trim() == ","
        };
        // "le ministre", "the leaders": a definite role noun refers to a person the text has
        // given that title already.
        let head_lower = lower(outside[head].slice(text));
        let titled_before = is_definite_article(article_text)
            && people.named.iter().any(|mention| {
                mention
                    .title
                    .as_deref()
                    .is_some_and(|title| title.contains(head_lower.as_str()))
            });
        if apposition || titled_before {
            continue;
        }
        // "the volunteer John Smith", "a farmer, Colin Boyd,": the noun is a title.
        let next = outside.get(head + 1);
        let name_follows = next.is_some_and(|&next| {
            let gap = text[outside[head].end..next.start].trim();
            is_capitalized(next.slice(text))
                && (gap.is_empty() || gap == ",")
                && cue_kind(next.slice(text)).is_none()
        });
        let window_end = outside[(head + UNNAMED_NAME_WINDOW).min(outside.len() - 1)].end;
        let titled_name_near = people.named.iter().rev().any(|mention| {
            mention.title.is_some()
                && mention.name.start > outside[head].end
                && mention.name.start < window_end
        });
        if !name_follows && !titled_name_near {
            people
                .unnamed
                .push(ByteSpan::new(article.start, outside[head].end));
        }
    }
}

/// The cue of a quote that a colon introduces with no cue word before it in its sentence
/// ("Kessler wies die Vorwürfe zurück: »…«", "Su respuesta fue clara: «…»"): the subject
/// that opens the sentence, found at the last word before the colon. A name must be a full
/// name or carry a title there, since a lone capitalised word opening a sentence is as often
/// a noun.
fn colon_cue(
    text: &str,
    outside: &[ByteSpan],
    sentence: ByteSpan,
    sentence_index: usize,
    quote_spans: &[ByteSpan],
    cues: &[Cue],
) -> Option<Cue> {
    let first_quote = quote_spans.partition_point(|q| q.start < sentence.start);
    let quote = quote_spans[first_quote..]
        .iter()
        .take_while(|q| q.start < sentence.end)
        .find(|q| text[sentence.start..q.start].trim_end().ends_with(':'))?;
    let has_cue_before = cues
        .iter()
        .rev()
        .take_while(|cue| cue.sentence == sentence_index)
        .any(|cue| cue.verb.start < quote.start);
    let before_count = outside.partition_point(|w| w.end <= quote.start);
    if has_cue_before || before_count == 0 {
        return None;
    }
    let before = &outside[..before_count];
    let first_word = before[0].slice(text);
    let subject = if is_pronoun(first_word) && !is_determiner(first_word) {
        Subject::Implicit
    } else {
        let mut run_end = 1;
        while run_end < before.len()
            && only_spaces_between(text, before[run_end - 1], before[run_end])
            && {
                let w = before[run_end].slice(text);
                is_capitalized(w) || is_name_particle(w)
            }
        {
            run_end += 1;
        }
        if !is_capitalized(first_word) {
            return None;
        }
        match split_name_and_title(text, before, 0, run_end) {
            Subject::Named { name, title }
                if title.is_some() || name.slice(text).split_whitespace().count() >= 2 =>
            {
                Subject::Named { name, title }
            }
            role @ Subject::Role { .. } if is_role(before[run_end - 1].slice(text)) => role,
            _ => return None,
        }
    };
    Some(Cue {
        verb: before[before_count - 1],
        participle: false,
        sentence: sentence_index,
        subject,
    })
}

/// Prepositions that, opening a sentence, give whose view it states: "Pour X, …".
fn is_opening_viewpoint_word(word: &str) -> bool {
    OPENING_VIEWPOINT_WORDS.contains(&word)
}

/// German "so" right after a closing quote mark (and a comma).
fn is_after_quote_cue(text: &str, word: ByteSpan, quote_spans: &[ByteSpan]) -> bool {
    if !is_cue_after_quote_only(word.slice(text)) {
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

#[cfg(test)]
mod tests {
    use super::super::marks::find_quotes;
    use super::*;

    fn cues_and_people(text: &str) -> (Vec<Cue>, People) {
        let seg = crate::segment::segment(text);
        let quotes: Vec<ByteSpan> = find_quotes(text, &seg)
            .iter()
            .map(|quote| quote.outer)
            .collect();
        find_cues(text, &seg, &quotes)
    }

    #[test]
    fn cue_words_outside_quotes_with_their_subjects() {
        // Each cue as "words: subject @sentence", participles marked.
        let cases: [(&str, &[&str]); 12] = [
            (
                "“He said nothing,” she told reporters. Chen said it would fail, adding more.",
                &[
                    "told: implicit @0",
                    "said: Chen @1",
                    "adding: implicit @1 participle",
                ],
            ),
            // "States" is the verb "states" only in lower case; a country after "The" is no
            // person's name.
            (
                "The United States said it would act.",
                &["said: role: The United States (states) @0"],
            ),
            (
                "Le ministre a déclaré que rien ne changerait.",
                &["a déclaré: role: Le ministre (ministre) @0"],
            ),
            // French inversions.
            ("« Je pars », dit-il.", &["dit-il: implicit @0"]),
            ("« Non », a-t-il déclaré.", &["déclaré: implicit @0"]),
            // Prepositions, postpositions, viewpoints.
            // Like an English participle, "according" is never the cue of the quote right before.
            (
                "According to housing economist Maria Chen, prices rise.",
                &["According: Maria Chen (housing economist) @0 participle"],
            ),
            (
                "Dem Minister zufolge sinken die Preise.",
                &["zufolge: role: Dem Minister (minister) @0"],
            ),
            (
                "Pour l'économiste Luis Herrera, la crise est finie.",
                &["Pour: Luis Herrera (l'économiste) @0"],
            ),
            // A viewpoint needs someone named or a role, not a pronoun.
            ("Pour elle, la crise est finie.", &[]),
            // German "so" only right after a quote.
            ("„Das ist gut“, so Müller.", &["so: Müller @0"]),
            ("Das ist so gut, und so bleibt es.", &[]),
            ("No cue at all here.", &[]),
        ];
        for (text, expected) in cases {
            let found: Vec<String> = cues_and_people(text)
                .0
                .iter()
                .map(|cue| {
                    let participle = if cue.participle { " participle" } else { "" };
                    let subject = cue.subject.as_written(text);
                    format!(
                        "{}: {subject} @{}{participle}",
                        cue.verb.slice(text),
                        cue.sentence
                    )
                })
                .collect();
            assert_eq!(found, expected, "{text}");
        }
    }

    #[test]
    fn people_named_with_a_title_or_as_a_subject() {
        let text = "Mayor Linda Park opened the session. Linda sat down first. \
                    Transport Minister Claire Dubois arrived. The Prime Minister did not. \
                    Chen said it. “Yes,” the minister said.";
        let (_, people) = cues_and_people(text);
        let named: Vec<(&str, Option<&str>)> = people
            .named
            .iter()
            .map(|mention| (mention.name.slice(text), mention.title.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                ("Linda Park", Some("mayor")),
                ("Claire Dubois", Some("transport minister")),
                ("Chen", None),
            ]
        );
        let roles: Vec<&str> = people.roles.iter().map(|role| role.slice(text)).collect();
        assert_eq!(roles, ["The Prime Minister", "the minister"]);
    }

    #[test]
    fn a_person_named_twice_at_one_place_is_one_mention() {
        // Both a titled mention and the subject of "said".
        let text = "Mayor Linda Park said it.";
        let (cues, people) = cues_and_people(text);
        assert_eq!(cues.len(), 1);
        assert_eq!(people.named.len(), 1);
        assert_eq!(people.named[0].name.slice(text), "Linda Park");
    }
}
