//! Attribution: which cue belongs to a quote (the one right after it, else the nearest before
//! it in its sentence, else the last of the previous sentence), and whom that cue's subject
//! refers to (a name as written, or the nearest fitting person named before).

use super::cues::{Cue, Mention, People};
use super::lexicon::{
    is_definite_article, is_indefinite_article, is_organisation, is_plural_pronoun, lower, words,
};
use super::marks::RawQuote;
use super::subjects::{Subject, AGE_NOUN_SUFFIXES};
use super::{Speaker, SpeakerKind};
use crate::segment::Segmentation;
use crate::ByteSpan;

/// How far (in bytes) a cue may sit after a quote's closing mark to belong to it directly.
const ATTACHED_CUE_DISTANCE: usize = 40;

/// How many earlier speaker mentions a role noun is compared with.
const ROLE_LOOKBACK_MENTIONS: usize = 64;

/// The speaker and cue of quote `index`, or None when no cue belongs to it.
pub(super) fn attribute(
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
    let quote_spans: Vec<ByteSpan> = quotes.iter().map(|quote| quote.outer).collect();
    let speaker = resolve(text, cue, cues, people, &quote_spans);
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
fn resolve(
    text: &str,
    cue: &Cue,
    cues: &[Cue],
    people: &People,
    quote_spans: &[ByteSpan],
) -> Option<Speaker> {
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
                .find(|other| !matches!(other.subject, Subject::Implicit));
            match same_sentence.map(|c| &c.subject) {
                // "Su patronal calificó … y recordó": the body of the main clause, not a
                // person named before it; "they said …, adding": several people.
                Some(Subject::Role { head, .. }) if is_plural_pronoun(head) => return None,
                Some(Subject::Role { phrase, .. }) => return Some(title_only(text, *phrase)),
                _ => {}
            }
            let mention = match same_sentence.map(|c| &c.subject) {
                Some(Subject::Named { name, title }) => Some(Mention {
                    name: *name,
                    title: title.clone(),
                }),
                _ => last_mention_before(mentions, cue.verb.start, |mention| {
                    is_person_like(text, mention, mentions)
                })
                .cloned(),
            };
            // A person written with no name after the last one named ("Lei, una giovane
            // insegnante, …: «…», ha detto"): the speaker is that person, not a name from before.
            let unnamed_after_mention = same_sentence.is_none().then(|| {
                let before = people
                    .unnamed
                    .partition_point(|unnamed| unnamed.start < cue.verb.start);
                people.unnamed[..before].last().copied().filter(|unnamed| {
                    mention
                        .as_ref()
                        .is_none_or(|mention| mention.name.end <= unnamed.start)
                })
            });
            if let Some(Some(unnamed)) = unnamed_after_mention {
                return Some(title_only(text, unnamed));
            }
            if let Some(chosen) = &mention {
                // Another person named since ("—¿Y ahora qué? —le preguntaron a Cienfuegos"):
                // a reply is theirs; any other cue could be either person's.
                if let Some(other) = later_reference(text, chosen, mentions, cue, quote_spans) {
                    return is_reply_cue(cue.verb.slice(text))
                        .then(|| resolved_speaker(text, other, mentions, cue.verb.start));
                }
            }
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
        // "they said", "ont-ils répondu": several people, no single name to give.
        Subject::Role { head, .. } if is_plural_pronoun(head) => None,
        Subject::Role { phrase, head } => {
            // "a spokeswoman", "uma utente": someone new, whoever held that role before.
            let indefinite = words(phrase.slice(text), 0)
                .first()
                .is_some_and(|first| is_indefinite_article(first.slice(phrase.slice(text))));
            // "Die Gewerkschaft kündigte an": the body speaks, not the person whose title
            // names it ("Sprecher der Gewerkschaft").
            if indefinite || is_organisation(head) {
                return Some(title_only(text, *phrase));
            }
            // "a déclaré le coureur de 24 ans": a definite role with an age refers back to
            // someone the text has named, not to a new person.
            if refers_back_by_age(text, *phrase) {
                if let Some(mention) = last_mention_before(mentions, cue.verb.start, |mention| {
                    is_person_like(text, mention, mentions)
                }) {
                    return Some(resolved_speaker(text, mention, mentions, cue.verb.start));
                }
            }
            let fits = |mention: &Mention| {
                mention
                    .title
                    .as_deref()
                    .is_some_and(|title| title.contains(head.as_str()))
            };
            let fitting = last_mention_before(mentions, cue.verb.start, fits);
            match fitting {
                // Two people named before with that role: which one is meant is a guess, and a
                // wrong name is worse than the role alone.
                Some(mention)
                    if !held_by_another(text, mention, mentions, cue.verb.start, fits) =>
                {
                    Some(resolved_speaker(text, mention, mentions, cue.verb.start))
                }
                _ => Some(title_only(text, *phrase)),
            }
        }
    }
}

/// Words for a person's age after a number ("de 24 ans", "di 46 anni", "67 Jahre alt"), and
/// the suffixes that write it in one word ("24-year-old", "46enne", "67-jährige"), lower case.
const AGE_WORDS: &[&str] = &[
    "ans", "años", "anni", "anos", "anys", "jahre", "years", "jaar",
];

/// Whether a role phrase opened by a definite article gives an age ("le coureur de 24 ans",
/// "the 24-year-old rider", "la 46enne"): news copy writes that of someone named before.
fn refers_back_by_age(text: &str, phrase: ByteSpan) -> bool {
    let phrase_text = phrase.slice(text);
    let tokens = words(phrase_text, 0);
    let Some(first) = tokens.first() else {
        return false;
    };
    let opening = lower(first.slice(phrase_text));
    if !is_definite_article(&opening) && !opening.starts_with("l'") && !opening.starts_with("l’")
    {
        return false;
    }
    tokens.windows(2).any(|pair| {
        let number = pair[0].slice(phrase_text);
        number.chars().all(|c| c.is_ascii_digit())
            && AGE_WORDS.contains(&lower(pair[1].slice(phrase_text)).as_str())
    }) || tokens.iter().any(|token| {
        let token = lower(token.slice(phrase_text));
        token.starts_with(|c: char| c.is_ascii_digit())
            && AGE_NOUN_SUFFIXES
                .iter()
                .any(|suffix| token.ends_with(suffix))
    })
}

/// Verbs of replying, lower case: their dropped subject is who was just addressed.
const REPLY_VERBS: &[&str] = &[
    "replied",
    "answered",
    "responded",
    "répondu",
    "répond",
    "répondit",
    "rétorqué",
    "rétorque",
    "respondió",
    "contestó",
    "replicó",
    "respondeu",
    "retorquiu",
    "rispose",
    "risposto",
    "replicato",
    "antwortete",
    "entgegnete",
    "erwiderte",
    "antwoordde",
    "respongué",
    "respondre",
];

fn is_reply_cue(verb: &str) -> bool {
    verb.split_whitespace()
        .last()
        .is_some_and(|last| REPLY_VERBS.contains(&lower(last).as_str()))
}

/// A person with a full name other than `chosen`, whose surname is written outside quotes
/// between `chosen` and the cue (the last such): then a dropped subject or a pronoun may
/// stand for either of them.
fn later_reference<'a>(
    text: &str,
    chosen: &Mention,
    mentions: &'a [Mention],
    cue: &Cue,
    quote_spans: &[ByteSpan],
) -> Option<&'a Mention> {
    let chosen_surname = chosen.name.slice(text).split_whitespace().last()?;
    let start = chosen.name.end;
    let end = cue.verb.start;
    if start >= end {
        return None;
    }
    let before = mentions.partition_point(|m| m.name.start < end);
    let full_names: Vec<&Mention> = mentions[..before]
        .iter()
        .filter(|m| m.name.slice(text).split_whitespace().count() >= 2)
        .collect();
    words(&text[start..end], start)
        .into_iter()
        .rev()
        .filter(|word| {
            !quote_spans
                .iter()
                .any(|q| q.start <= word.start && word.end <= q.end)
        })
        .find_map(|word| {
            let w = word.slice(text);
            if w == chosen_surname || !crate::names::is_capitalized(w) {
                return None;
            }
            full_names
                .iter()
                .rev()
                .find(|m| {
                    m.name.end <= word.start
                        && m.name.slice(text).split_whitespace().last() == Some(w)
                })
                .copied()
        })
}

/// Whether another person (another last word) than `mention`, named before `offset`, fits too.
fn held_by_another(
    text: &str,
    mention: &Mention,
    mentions: &[Mention],
    offset: usize,
    fits: impl Fn(&Mention) -> bool,
) -> bool {
    let surname = |m: &Mention| {
        m.name
            .slice(text)
            .split_whitespace()
            .last()
            .map(str::to_string)
    };
    let wanted = surname(mention);
    let end = mentions.partition_point(|m| m.name.start < offset);
    mentions[..end]
        .iter()
        .rev()
        .take(ROLE_LOOKBACK_MENTIONS)
        .any(|other| fits(other) && surname(other) != wanted)
}

fn title_only(text: &str, phrase: ByteSpan) -> Speaker {
    Speaker {
        name: phrase.slice(text).to_string(),
        span: phrase,
        kind: SpeakerKind::TitleOnly,
        title: Some(lower(phrase.slice(text))),
    }
}

/// Whether a mention is evidence enough of a person for a pronoun or a dropped subject to
/// refer to it: a full name, a titled one, or the surname of a full name written before. A
/// lone capitalised word is as often a place or a body ("Milano", "Projekt").
fn is_person_like(text: &str, mention: &Mention, mentions: &[Mention]) -> bool {
    let name = mention.name.slice(text);
    if mention.title.is_some() || name.split_whitespace().count() >= 2 {
        return true;
    }
    mentions
        .iter()
        .take_while(|other| other.name.start < mention.name.start)
        .any(|other| {
            let other_name = other.name.slice(text);
            other_name.split_whitespace().count() >= 2
                && other_name.split_whitespace().last() == Some(name)
        })
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

#[cfg(test)]
mod tests {
    use super::super::cues::find_cues;
    use super::super::marks::find_quotes;
    use super::*;
    use crate::segment::segment;

    /// Who said each quote: "name, title (kind) via cue", "nobody via cue", or "-" when no cue
    /// belongs to the quote.
    fn attributions(text: &str) -> Vec<String> {
        let seg = segment(text);
        let quotes = find_quotes(text, &seg);
        let spans: Vec<ByteSpan> = quotes.iter().map(|quote| quote.outer).collect();
        let (cues, people) = find_cues(text, &seg, &spans);
        (0..quotes.len())
            .map(|index| {
                match attribute(text, &seg, &quotes[index], index, &quotes, &cues, &people) {
                    None => "-".to_string(),
                    Some((None, cue)) => format!("nobody via {}", cue.slice(text)),
                    Some((Some(speaker), cue)) => {
                        let title = speaker.title.map(|t| format!(", {t}")).unwrap_or_default();
                        let cue = cue.slice(text);
                        format!("{}{title} ({:?}) via {cue}", speaker.name, speaker.kind)
                    }
                }
            })
            .collect()
    }

    #[test]
    fn which_cue_a_quote_takes_and_whom_it_names() {
        let cases: [(&str, &[&str]); 15] = [
            // 1. The cue right after the quote.
            (
                "Ann Lee said the plan was fine. “It is late,” Bob Ray said.",
                &["Bob Ray (Named) via said"],
            ),
            // 2. Else the cue before it in its sentence.
            (
                "Ann Lee said: “We are ready.”",
                &["Ann Lee (Named) via said"],
            ),
            // 3. Else the last cue of the previous sentence.
            (
                "Bob Ray said on Monday that the port would reopen. “Nobody will lose a job.”",
                &["Bob Ray (Named) via said"],
            ),
            // No cue at all.
            (
                "The plan is “a meaningful but partial step” for the city.",
                &["-"],
            ),
            // A cue right before the next quote introduces that one, not the one before.
            (
                "Ann Lee said “one thing here” and Bob Ray says “another thing.”",
                &["Ann Lee (Named) via said", "Bob Ray (Named) via says"],
            ),
            // A participle takes the named subject of its sentence.
            (
                "“We are ready,” Ann Lee said, adding “we will stay.”",
                &["Ann Lee (Named) via said", "Ann Lee (Resolved) via adding"],
            ),
            // A pronoun: the last person named, else the last role without a name, else nobody.
            (
                "Mayor Linda Park opened the session. “We listened,” she said.",
                &["Linda Park, mayor (Resolved) via said"],
            ),
            (
                "The Prime Minister arrived late. “We will stay,” she said.",
                &["The Prime Minister, the prime minister (TitleOnly) via said"],
            ),
            ("“We will stay,” she said.", &["nobody via said"]),
            // A role: the last person with that title (Ann Lee has none), named as the latest
            // mention of the same surname; else the role alone.
            (
                "Transport Minister Claire Dubois visited the port. Dubois said little. \
                 “The line opens in May,” the minister said.",
                &["Dubois, transport minister (Resolved) via said"],
            ),
            (
                "“We will not be bullied,” the Prime Minister said.",
                &["the Prime Minister, the prime minister (TitleOnly) via said"],
            ),
            (
                "Ann Lee said it was late. “We will not be bullied,” the Prime Minister said.",
                &["the Prime Minister, the prime minister (TitleOnly) via said"],
            ),
            // A person written with no name after the last one named: that person, not the
            // name before; but not an apposition to the name, nor "a" as a preposition.
            (
                "Ann Lee opened the hall. Later a volunteer arrived. “We were cold,” she said.",
                &["a volunteer, a volunteer (TitleOnly) via said"],
            ),
            (
                "Ann Lee, una giovane insegnante, è arrivata. «Siamo stanchi», ha detto.",
                &["Ann Lee (Resolved) via ha detto"],
            ),
            (
                "La alcaldesa Ann Lee dio las gracias a su equipo. «Fue duro», afirmó.",
                &["Ann Lee, alcaldesa (Resolved) via afirmó"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(attributions(text), expected, "{text}");
        }
    }

    #[test]
    fn weak_evidence_gives_the_role_or_nobody_never_a_wrong_name() {
        let cases: [(&str, &[&str]); 5] = [
            // A plural subject is several people: no single name, neither the last one named.
            (
                "Ann Lee and Bob Ray left the hall. “We were cold,” they said.",
                &["nobody via said"],
            ),
            (
                "Ann Lee a quitté la salle avec Bob Ray. « Nous avions froid », ont-ils répondu.",
                &["nobody via répondu"],
            ),
            // An indefinite role is someone new, even when a named person held that role.
            (
                "Spokeswoman Ann Lee spoke first. “We were cold,” a spokeswoman said.",
                &["a spokeswoman, a spokeswoman (TitleOnly) via said"],
            ),
            // The role after the cue in an inversion, with an article that is no determiner.
            (
                "A ministra Ana Lopes abriu a sessão. «Estamos cansados», desabafou uma utente.",
                &["uma utente, uma utente (TitleOnly) via desabafou"],
            ),
            // Two people named with the role: which one is meant is a guess.
            (
                "Minister Ann Lee met Minister Bob Ray. “It is late,” the minister said.",
                &["the minister, the minister (TitleOnly) via said"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(attributions(text), expected, "{text}");
        }
    }

    #[test]
    fn bodies_ages_appositions_and_replies() {
        let cases: [(&str, &[&str]); 8] = [
            // A body subject of the sentence: its second cue is the body's, not a person's.
            (
                "Ana Ruiz habló primero. La patronal criticó el plan y recordó que «todo sube».",
                &["La patronal, la patronal (TitleOnly) via recordó"],
            ),
            // A body opening a sentence is what a later pronoun stands for.
            (
                "Paul Martin a parlé. La Commission européenne a réagi. Elle a jugé la mesure « inutile ».",
                &["La Commission, la commission (TitleOnly) via a jugé"],
            ),
            // A definite role with an age refers back to the person named before.
            (
                "La Française Julie Moreau a gagné. « Je suis heureuse », a déclaré la skieuse de 31 ans.",
                &["Julie Moreau, française (Resolved) via a déclaré"],
            ),
            // A body's name closing a role's complement; the person follows in apposition.
            (
                "«Es tarde», dijo el portavoz de la plataforma vecinal Salvem el Barri, Pau Serra.",
                &["Pau Serra, el portavoz de la plataforma vecinal salvem el barri (Named) via dijo"],
            ),
            // An elided article and a common noun opening a sentence name no one.
            (
                "Marco Neri ha votato. L'opposizione ha parlato di «una farsa».",
                &["L'opposizione, l'opposizione (TitleOnly) via ha parlato"],
            ),
            // Spanish "a" + determiner is an object; the subject follows it.
            (
                "«Hay que salir», explicó a los vecinos el jefe de policía, Juan Lago.",
                &["Juan Lago, el jefe de policía (Named) via explicó"],
            ),
            // A reply with a dropped subject is the addressee's; another cue after a second
            // person is named is no one's.
            (
                "El concejal Luis Prado llegó. La alcaldesa Eva Sanz saludó a Prado. «Fue largo», dijo.",
                &["nobody via dijo"],
            ),
            // After a comma, a two-word run before a verb is a person a dropped subject means.
            (
                "O ministro Rui Lopes falou. Na rua, Rosa Pinto esperava. «Estou cansada», disse.",
                &["Rosa Pinto (Resolved) via disse"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(attributions(text), expected, "{text}");
        }
        let dialogue = "El director Luis Prado llegó con la actriz Eva Sanz.\n\n—¿Y mañana? —le preguntaron a Prado.\n\n\
                        —Descansar —respondió.";
        assert_eq!(
            attributions(dialogue).last().map(String::as_str),
            Some("Luis Prado, director (Resolved) via respondió")
        );
    }

    #[test]
    fn role_nouns_and_according_to_words_beyond_the_dev_languages() {
        let cases: [(&str, &[&str]); 5] = [
            (
                "„Cijene rastu”, rekla je ministrica Ana Horvat.",
                &["Ana Horvat, je ministrica (Named) via rekla"],
            ),
            (
                "«Ο δρόμος κλείνει», δήλωσε ο δήμαρχος Νίκος Παππάς.",
                &["Νίκος Παππάς, ο δήμαρχος (Named) via δήλωσε"],
            ),
            (
                "Menurut menteri Budi Santoso, harga naik. “Kami siap,” kata menteri.",
                &["Budi Santoso, menteri (Resolved) via kata"],
            ),
            (
                "Kovács Anna szerint „a terv késik”.",
                &["Kovács Anna (Named) via szerint"],
            ),
            ("Podľa hovorkyne ministerstva je to „dočasné”.", &["-"]),
        ];
        let found: Vec<Vec<String>> = cases.iter().map(|(text, _)| attributions(text)).collect();
        let wanted: Vec<Vec<String>> = cases
            .iter()
            .map(|(_, expected)| expected.iter().map(|e| e.to_string()).collect())
            .collect();
        assert_eq!(found, wanted);
    }

    #[test]
    fn the_lookback_over_mentions_is_bounded() {
        let mentions: Vec<Mention> = (0..ROLE_LOOKBACK_MENTIONS + 1)
            .map(|index| Mention {
                name: ByteSpan::new(index * 10, index * 10 + 5),
                title: (index == 0).then(|| "minister".to_string()),
            })
            .collect();
        let has_title = |mention: &Mention| mention.title.is_some();
        let past_the_last = mentions.len() * 10;
        assert!(last_mention_before(&mentions, past_the_last, has_title).is_none());
        let found = last_mention_before(&mentions, past_the_last - 10, has_title);
        assert_eq!(found.map(|mention| mention.name.start), Some(0));
        assert!(last_mention_before(&mentions, 0, |_| true).is_none());
    }
}
