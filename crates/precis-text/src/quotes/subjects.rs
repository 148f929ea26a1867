//! The subject written next to a cue word: a name (with the title before it split off), a
//! role noun phrase, or a pronoun or nothing at all (an implicit subject, resolved later to a
//! person named before). Functions take the words of a sentence outside quotes (`outside`,
//! in text order) and the position of the cue among them.

use super::lexicon::{
    cue_kind, elided_rest, inverted_cue, is_adverb, is_auxiliary, is_conjunction,
    is_content_noun_candidate, is_determiner, is_elided_common_noun, is_function_word,
    is_indefinite_article, is_name_particle, is_never_a_name, is_organisation, is_person_noun,
    is_plural_pronoun, is_possessive, is_preposition, is_pronoun, is_role,
    is_unnamed_mention_article, lower,
};
use super::marks::is_dialogue_dash;
use crate::names::is_capitalized;
use crate::ByteSpan;

/// Who a cue word's subject is, as written next to it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Subject {
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

/// The subject a pronoun stands for (the pronoun may end an inversion: "dit-il",
/// "ont-ils"): someone named before, or several people ("they", "ils") as a role phrase whose
/// head is the pronoun, which resolves to no single name.
pub(super) fn pronoun_subject(text: &str, word: ByteSpan) -> Subject {
    let pronoun = word.slice(text).rsplit('-').next().unwrap_or("");
    if is_plural_pronoun(pronoun) {
        Subject::Role {
            phrase: word,
            head: lower(pronoun),
        }
    } else {
        Subject::Implicit
    }
}

/// The role written before a name as "role [of Complement][,] Name" ("la ministra de
/// Vivienda, Isabel Romero"), lower case, without the comma.
pub(super) fn role_complement_before(
    text: &str,
    outside: &[ByteSpan],
    run_start: usize,
) -> Option<String> {
    let window = run_start.saturating_sub(6)..run_start;
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
            is_preposition(w)
                || is_determiner(w)
                || is_conjunction(w)
                || (is_capitalized(w) && cue_kind(w).is_none())
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

/// Whether only white space separates two words (no punctuation).
pub(super) fn only_spaces_between(text: &str, first: ByteSpan, second: ByteSpan) -> bool {
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
pub(super) fn verb_subject(
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
    // "a-t-elle déclaré": the subject is the pronoun inside the inversion.
    if start > 0 && inverted_cue(outside[start - 1].slice(text)) {
        return pronoun_subject(text, outside[start - 1]);
    }
    let inverted = follows_quote(text, outside[start], quote_spans);
    if !inverted {
        if let Some(subject) = apposition_name_before(text, outside, start)
            .or_else(|| subject_before(text, outside, start))
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

/// Words a name in apposition may span.
const MAX_APPOSITION_NAME_WORDS: usize = 6;

/// The name in apposition right before the verb: "The spokesman of the union, Ann Lee, said",
/// "Der Leiter des Krisenstabs, Georg Haslinger, erklärte": the words between the two commas
/// are all capitalised (or particles), after a role phrase or a noun phrase.
fn apposition_name_before(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    let previous = *outside.get(position.checked_sub(1)?)?;
    if text[previous.end..outside[position].start].trim() != "," {
        return None;
    }
    let lowest = position
        .saturating_sub(MAX_APPOSITION_NAME_WORDS + 1)
        .max(1);
    let opening = (lowest..position)
        .rev()
        .find(|&i| text[outside[i - 1].end..outside[i].start].trim() == ",")?;
    let run_ok = (opening..position).all(|i| {
        let w = outside[i].slice(text);
        (is_capitalized(w) || (is_name_particle(w) && i > opening))
            && (i + 1 == position || only_spaces_between(text, outside[i], outside[i + 1]))
    });
    if !run_ok && is_determiner(outside[opening].slice(text)) {
        return match subject_after_within(text, outside, opening, false)? {
            Subject::Named { name, title } if name.end == outside[position - 1].end => {
                Some(Subject::Named { name, title })
            }
            _ => None,
        };
    }
    let before = outside[opening - 1].slice(text);
    // "Paris, Texas, said": a place and its region, not a role and a name; but "The mayor of
    // Port Ellis, Douglas Fraser, said" is one.
    let place_and_region = is_capitalized(before) && !is_role(before) && {
        let mut run_start = opening - 1;
        while run_start > 0
            && is_capitalized(outside[run_start - 1].slice(text))
            && only_spaces_between(text, outside[run_start - 1], outside[run_start])
        {
            run_start -= 1;
        }
        run_start == 0 || {
            let w = outside[run_start - 1].slice(text);
            !is_preposition(w) && !is_determiner(w) && !is_role(w)
        }
    };
    if !run_ok
        || place_and_region
        || is_never_a_name(outside[opening].slice(text))
        || run_is_organisation(text, outside, opening, position)
    {
        return None;
    }
    match split_name_and_title(text, outside, opening, position) {
        Subject::Named { name, title } => Some(Subject::Named {
            name,
            title: title.or_else(|| {
                let start = (opening.saturating_sub(6)..opening)
                    .find(|&i| is_role(outside[i].slice(text)))?;
                Some(lower(&text[outside[start].start..outside[opening - 1].end]))
            }),
        }),
        _ => None,
    }
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
    // "El jurado, presidido por …, destacó": a determiner and a common noun are a subject too.
    let determined_noun = position >= 2
        && is_content_noun_candidate(previous.slice(text))
        && is_determiner(outside[position - 2].slice(text))
        && only_spaces_between(text, outside[position - 2], previous);
    if !is_capitalized(previous.slice(text)) && !is_role(previous.slice(text)) && !determined_noun {
        return None;
    }
    // Re-run the plain search with an empty stand-in for the verb right before the comma.
    let mut words_before: Vec<ByteSpan> = outside[position.saturating_sub(8)..position].to_vec();
    words_before.push(ByteSpan::new(previous.end, previous.end));
    let last = words_before.len() - 1;
    subject_before(text, &words_before, last)
}

/// The subject that ends right before `outside[position]`, if there is one.
pub(super) fn subject_before(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    let previous = *outside.get(position.checked_sub(1)?)?;
    if !only_spaces_between(text, previous, outside[position]) {
        return None;
    }
    let previous_text = previous.slice(text);
    if is_pronoun(previous_text) {
        return Some(pronoun_subject(text, previous));
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
        // "of Port Ellis", "de Vigo": a complement, not a subject.
        let governed = first > 0 && {
            let w = outside[first - 1].slice(text);
            is_preposition(w)
                && !is_determiner(w)
                && only_spaces_between(text, outside[first - 1], outside[first])
        };
        if governed {
            return None;
        }
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
                return noun_and_complement_before(text, outside, position);
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

/// Words a body's complement may span between its noun and the verb ("dell'Istruzione").
const MAX_COMPLEMENT_WORDS: usize = 3;

/// A determiner, a common noun and its complement right before the verb: "Il ministero
/// dell'Istruzione ha parlato", "la Direction de l'aviation a jugé". The subject names a body
/// or a role, never a person.
fn noun_and_complement_before(
    text: &str,
    outside: &[ByteSpan],
    position: usize,
) -> Option<Subject> {
    let lowest = position.saturating_sub(MAX_COMPLEMENT_WORDS + 2);
    let determiner = (lowest..position.saturating_sub(2)).rev().find(|&j| {
        is_determiner(outside[j].slice(text))
            && is_content_noun_candidate(outside[j + 1].slice(text))
    })?;
    let joined = (determiner..position - 1)
        .all(|i| only_spaces_between(text, outside[i], outside[i + 1]))
        && only_spaces_between(text, outside[position - 1], outside[position]);
    let complement_ok = outside[determiner + 2..position].iter().all(|w| {
        let w = w.slice(text);
        is_preposition(w) || is_determiner(w) || elided_rest(w).is_some() || is_capitalized(w)
    });
    (joined && complement_ok).then(|| Subject::Role {
        phrase: ByteSpan::new(outside[determiner].start, outside[position - 1].end),
        head: lower(outside[determiner + 1].slice(text)),
    })
}

/// Splits capitalised words `outside[first..end]` into a title (roles, possessives,
/// determiners) and the name after it.
pub(super) fn split_name_and_title(
    text: &str,
    outside: &[ByteSpan],
    first: usize,
    end: usize,
) -> Subject {
    // "L'opposizione ha parlato": an article and a common noun, capitalised opening a sentence.
    if end == first + 1 && is_elided_common_noun(outside[first].slice(text)) {
        let word = outside[first].slice(text);
        return Subject::Role {
            phrase: outside[first],
            head: lower(elided_rest(word).unwrap_or(word)),
        };
    }
    let name_start = (first..end)
        .rev()
        .find(|&index| {
            let w = outside[index].slice(text);
            is_role(w) || is_possessive(w) || is_determiner(w)
        })
        .map_or(first, |index| index + 1);
    // Words opening a sentence that name nobody ("Y", "Pero", "Then") are no part of a name.
    let mut name_start = name_start;
    while name_start < end && is_never_a_name(outside[name_start].slice(text)) {
        name_start += 1;
    }
    let has_role_word = (first..end).any(|i| {
        let w = outside[i].slice(text);
        is_role(w) || is_possessive(w)
    });
    // A capitalised noun after a determiner ("die Jury", "the Royal Association") or a run
    // holding an organisation's noun names a body, not a person.
    let determined = first > 0
        && is_determiner(outside[first - 1].slice(text))
        && only_spaces_between(text, outside[first - 1], outside[first]);
    if name_start < end
        && (run_is_organisation(text, outside, name_start, end) || (determined && !has_role_word))
    {
        let phrase_start = if determined { first - 1 } else { first };
        return Subject::Role {
            phrase: ByteSpan::new(outside[phrase_start].start, outside[end - 1].end),
            head: lower(outside[end - 1].slice(text)),
        };
    }
    if name_start >= end && !has_role_word {
        // Only determiners and the like ("Il", "The", "Son"): nobody is named here.
        return Subject::Implicit;
    }
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

/// Words a subject after its cue may span ("la ministra de Trabajo", "il segretario regionale
/// dei trasporti della Filt Cgil Massimo Brambilla").
const MAX_SUBJECT_AFTER_WORDS: usize = 16;

/// Capitalised words a complement run must hold, when it ends the clause with no comma, for
/// its last two to be taken for the name after it ("della Filt Cgil Massimo Brambilla").
const GLUED_NAME_MIN_RUN: usize = 4;

/// The subject starting at `outside[position]` (after an inverted verb or a preposition):
/// a name, possibly after role words ("Bürgermeisterin Anna Schmidt", "el economista Luis
/// Herrera"); a role phrase ("le ministre"), possibly followed by the name in apposition ("la
/// ministra de Trabajo, Yolanda Díaz"), its complement possibly long ("el portavoz del comité
/// de huelga, Adrián Fueyo"); or a pronoun ("dit-il", "she").
pub(super) fn subject_after(text: &str, outside: &[ByteSpan], position: usize) -> Option<Subject> {
    subject_after_within(text, outside, position, true)
}

/// [`subject_after`]; `apposition` allows one more phrase after a comma ("la ministra de
/// Trabajo, Yolanda Díaz", "die Sprecherin der Initiative, die Hebamme Karin Westphal").
fn subject_after_within(
    text: &str,
    outside: &[ByteSpan],
    position: usize,
    apposition: bool,
) -> Option<Subject> {
    let first = *outside.get(position)?;
    // Right after the cue (the first call); a phrase in apposition follows a comma.
    if apposition && position > 0 && !only_spaces_between(text, outside[position - 1], first) {
        return None;
    }
    let first_text = first.slice(text);
    // Spanish "a" before a determiner is a preposition ("agradeció a su equipo", "a la
    // ministra"): an object, not the subject; the subject may follow it ("explicó a los
    // periodistas el jefe de bomberos").
    if first_text == "a"
        && outside.get(position + 1).is_some_and(|next| {
            SPANISH_DETERMINERS_AFTER_A.contains(&lower(next.slice(text)).as_str())
        })
    {
        let mut next = position + 2;
        while next < outside.len()
            && only_spaces_between(text, outside[next - 1], outside[next])
            && !is_determiner(outside[next].slice(text))
            && !is_capitalized(outside[next].slice(text))
            && next - position < 5
        {
            next += 1;
        }
        let subject_follows = next < outside.len()
            && only_spaces_between(text, outside[next - 1], outside[next])
            && is_determiner(outside[next].slice(text));
        return if subject_follows {
            subject_after_within(text, outside, next, apposition)
        } else {
            None
        };
    }
    // Italian "il" is a determiner, French "il" a pronoun: a noun after it tells them apart.
    let determiner_before_noun = is_determiner(first_text)
        && outside.get(position + 1).is_some_and(|&next| {
            only_spaces_between(text, first, next) && cue_kind(next.slice(text)).is_none()
        });
    if (is_pronoun(first_text) && !determiner_before_noun) || inverted_cue(first_text) {
        return Some(pronoun_subject(text, first));
    }
    // The words joined to the first by spaces only.
    let mut end = position + 1;
    while end < outside.len()
        && end - position < MAX_SUBJECT_AFTER_WORDS
        && (only_spaces_between(text, outside[end - 1], outside[end])
            || abbreviated_title_before(text, outside[end - 1], outside[end]))
    {
        end += 1;
    }
    let mut last_role: Option<usize> = None;
    // Inside the complement of a role ("de Trabajo", "of the State University").
    let mut in_complement = false;
    // Lower-case words before any role or name ("disse sorridente Manuel Viegas").
    let mut loose_words = 0;
    // A preposition or conjunction before any role: the words are an adjunct, not a subject.
    let mut adjunct = false;
    let mut index = position;
    while index < end {
        let w = outside[index].slice(text);
        let previous = (index > position).then(|| outside[index - 1].slice(text));
        let after_determiner = previous.is_some_and(is_determiner);
        // "der", "a" are determiners as well as prepositions: a determiner opens a phrase; so
        // does "en" before a role ("en talsperson", not "en conférence").
        let after_preposition = previous.is_some_and(|p| {
            is_preposition(p) && !is_determiner(p) && !(is_indefinite_article(p) && is_role(w))
        });
        // A common noun after a determiner heads the subject ("el politólogo"), unless an
        // adjunct opened the words after the cue ("en las redes sociales", "in una nota").
        let role_like = after_determiner
            && last_role.is_none()
            && !in_complement
            && !adjunct
            && is_content_noun_candidate(w);
        // "a déclaré devant les députés": a role governed by a preposition is an adjunct's.
        let governed = last_role.is_none()
            && (after_preposition
                || (after_determiner
                    && index >= position + 2
                    && is_preposition(outside[index - 2].slice(text))));
        if (is_role(w) && !governed) || role_like {
            last_role = Some(index);
            in_complement = false;
        } else if is_capitalized(w) && !is_never_a_name(w) {
            let run_end = name_run_end(text, outside, index, end);
            let capitals = (index..run_end)
                .filter(|&i| is_capitalized(outside[i].slice(text)))
                .count();
            // "Västtrafiks presschef Karin Lindberg", "Belediye başkanı Ahmet Yılmaz": a body
            // before a lower-case role is the role's complement, the name comes after it.
            let role_follows = last_role.is_none()
                && run_end < end
                && is_role(outside[run_end].slice(text))
                && !is_capitalized(outside[run_end].slice(text));
            if role_follows {
                index = run_end;
                continue;
            }
            let determined =
                (after_determiner && last_role.is_none()) || after_preposition || in_complement;
            // One capitalised word inside an adjunct ("vor einer geschlossenen Kita") is a
            // place or a thing, not the subject.
            let in_adjunct = adjunct && last_role.is_none() && run_end == index + 1;
            if !determined
                && !in_adjunct
                && (index == position || last_role.is_some() || loose_words <= 2)
                && !run_is_organisation(text, outside, index, run_end)
            {
                return Some(Subject::Named {
                    name: ByteSpan::new(outside[index].start, outside[run_end - 1].end),
                    title: (index > position)
                        .then(|| lower(&text[first.start..outside[index - 1].end])),
                });
            }
            let after_content_word = previous.is_some_and(|p| {
                !is_capitalized(p) && !is_preposition(p) && !is_determiner(p) && !is_conjunction(p)
            });
            // "l'association Parents d'élèves": one capitalised word after a body's noun is
            // that body's name ("de la empresa Beatriz Llorente" is a person's).
            let names_a_body = capitals == 1 && previous.is_some_and(is_organisation);
            if in_complement
                && after_content_word
                && !names_a_body
                && !run_is_organisation(text, outside, index, run_end)
            {
                // "el presidente de la asociación de usuarios Usuaris del Tren, Jordi Ferrer":
                // a name in apposition after the run is the person; the run names the body.
                if let Some(name) = apposed_name(text, outside, run_end) {
                    return Some(Subject::Named {
                        name,
                        title: Some(lower(&text[first.start..outside[run_end - 1].end])),
                    });
                }
                // "el secretario general de los socialistas Francisco Ruiz": a complement
                // ending in a common noun, then the name (the last two words when a body's
                // name is glued before it: "della Flc Cgil Sicilia Giovanna Cusumano").
                let name_start = if capitals >= GLUED_NAME_MIN_RUN && run_end == end {
                    run_end - 2
                } else {
                    index
                };
                return Some(Subject::Named {
                    name: ByteSpan::new(outside[name_start].start, outside[run_end - 1].end),
                    title: Some(lower(&text[first.start..outside[name_start - 1].end])),
                });
            }
            // "der Gewerkschaft Jürgen Pohlmann", "le Danois Anders Kjeldsen": the body or the
            // demonym, then the name.
            let last_organisation = (index..run_end)
                .rev()
                .find(|&i| is_organisation(outside[i].slice(text)));
            let mut name_from = match last_organisation {
                Some(i) => i + 1,
                None if determined && capitals >= 3 => index + 1,
                None => run_end,
            };
            while name_from < run_end && !is_capitalized(outside[name_from].slice(text)) {
                name_from += 1;
            }
            let rest_capitals = (name_from..run_end)
                .filter(|&i| is_capitalized(outside[i].slice(text)))
                .count();
            if rest_capitals >= GLUED_NAME_MIN_RUN {
                name_from = run_end - 2;
            }
            if (in_complement || determined) && run_end == end {
                // "da Região de Turismo do Algarve, João Mendonça Guerreiro": the body's name
                // ends the complement, the person follows it in apposition.
                if let Some(name) = apposed_name(text, outside, run_end) {
                    return Some(Subject::Named {
                        name,
                        title: Some(lower(&text[first.start..outside[run_end - 1].end])),
                    });
                }
            }
            if (in_complement || determined)
                && run_end == end
                && name_from + 2 <= run_end
                && (name_from..run_end).all(|i| !is_role(outside[i].slice(text)))
            {
                return Some(Subject::Named {
                    name: ByteSpan::new(outside[name_from].start, outside[run_end - 1].end),
                    title: Some(lower(&text[first.start..outside[name_from - 1].end])),
                });
            }
            if in_complement
                && last_role.is_some()
                && run_end == end
                && capitals >= GLUED_NAME_MIN_RUN
            {
                // A complement glued to the name with no comma: the name is its last two words.
                let name_start = run_end - 2;
                return Some(Subject::Named {
                    name: ByteSpan::new(outside[name_start].start, outside[run_end - 1].end),
                    title: Some(lower(&text[first.start..outside[name_start - 1].end])),
                });
            }
            // A complement ("de Trabajo", "at KPMG") or a noun after a determiner ("la
            // Generalitat", "die Jury"): part of the phrase, not a name.
            index = run_end;
            continue;
        } else if cue_kind(w).is_some() || (is_pronoun(w) && !is_determiner(w)) {
            break;
        } else if is_preposition(w) || is_determiner(w) {
            in_complement |= last_role.is_some();
            adjunct |= last_role.is_none() && !is_determiner(w);
        } else if last_role.is_none() && !is_capitalized(w) {
            loose_words += 1;
            if is_function_word(w) || is_conjunction(w) {
                loose_words += 3;
                adjunct = true;
            }
        }
        index += 1;
    }
    let Some(role_end) = last_role else {
        // A determiner and a common noun naming no person: "preguntó un periodista".
        // "desabafou uma utente", "said one woman": an article that is no determiner too.
        // "sagte die 58-Jährige", "said the 24-year-old": an age standing for a person.
        if is_determiner(first_text) {
            if let Some(&age) = outside.get(position + 1) {
                let age_text = lower(age.slice(text));
                if only_spaces_between(text, first, age)
                    && age_text.starts_with(|c: char| c.is_ascii_digit())
                    && AGE_NOUN_SUFFIXES
                        .iter()
                        .any(|suffix| age_text.ends_with(suffix))
                {
                    return Some(Subject::Role {
                        phrase: ByteSpan::new(first.start, age.end),
                        head: age_text,
                    });
                }
            }
        }
        let opens_phrase = is_determiner(first_text) || is_unnamed_mention_article(first_text);
        // "replied the two island councillors, Iain Morrison and Kirsty Bell": a lower-case
        // noun phrase closed by a comma, then names in apposition.
        if opens_phrase && apposition {
            let mut phrase_end = position + 1;
            while phrase_end < end
                && phrase_end - position <= MAX_APPOSED_PHRASE_WORDS
                && !is_capitalized(outside[phrase_end].slice(text))
                && cue_kind(outside[phrase_end].slice(text)).is_none()
            {
                phrase_end += 1;
            }
            if phrase_end == end && phrase_end > position + 1 {
                if let Some(name) = apposed_name(text, outside, phrase_end) {
                    return Some(Subject::Named {
                        name,
                        title: Some(lower(&text[first.start..outside[phrase_end - 1].end])),
                    });
                }
            }
        }
        let noun = outside
            .get(position + 1)
            .filter(|_| opens_phrase && end > position + 1)?;
        let noun_text = noun.slice(text);
        // "erzählte ein Vater": German writes the noun with a capital.
        let person_noun =
            is_indefinite_article(first_text) && (is_person_noun(noun_text) || is_role(noun_text));
        return (is_content_noun_candidate(noun_text) || person_noun).then(|| Subject::Role {
            phrase: ByteSpan::new(first.start, noun.end),
            head: lower(noun.slice(text)),
        });
    };
    // The phrase runs to the role and its complement; a name may follow after a comma.
    let phrase_end = index.min(end).max(role_end + 1);
    let phrase = ByteSpan::new(first.start, outside[phrase_end - 1].end);
    if let Some(&next) = outside.get(phrase_end) {
        let gap = &text[outside[phrase_end - 1].end..next.start];
        let next_text = next.slice(text);
        // "…, la hebamme Karin Westphal", "…, retired engineer Morag MacLeod".
        if gap.trim() == ","
            && apposition
            && (is_determiner(next_text) || !is_capitalized(next_text))
        {
            if let Some(Subject::Named { name, title }) =
                subject_after_within(text, outside, phrase_end, false)
            {
                let title = match title {
                    Some(title) => format!("{}, {title}", lower(phrase.slice(text))),
                    None => lower(phrase.slice(text)),
                };
                return Some(Subject::Named {
                    name,
                    title: Some(title),
                });
            }
        }
        if gap.trim() == ","
            && is_capitalized(next_text)
            && !is_role(next_text)
            && !is_never_a_name(next_text)
        {
            let name_end = name_run_end(text, outside, phrase_end, outside.len());
            if !run_is_organisation(text, outside, phrase_end, name_end) {
                return Some(Subject::Named {
                    name: ByteSpan::new(next.start, outside[name_end - 1].end),
                    title: Some(lower(phrase.slice(text))),
                });
            }
        }
    }
    Some(Subject::Role {
        phrase,
        head: lower(outside[role_end].slice(text)),
    })
}

/// Lower-case words a noun phrase may span before a name in apposition.
const MAX_APPOSED_PHRASE_WORDS: usize = 5;

/// The name right after a comma at `outside[position]`, closed by punctuation or the end:
/// "…, Jordi Ferrer." (a person in apposition to what comes before).
fn apposed_name(text: &str, outside: &[ByteSpan], position: usize) -> Option<ByteSpan> {
    let next = *outside.get(position)?;
    let gap = &text[outside[position.checked_sub(1)?].end..next.start];
    let next_text = next.slice(text);
    if gap.trim() != ","
        || !is_capitalized(next_text)
        || is_role(next_text)
        || is_never_a_name(next_text)
    {
        return None;
    }
    let name_end = name_run_end(text, outside, position, outside.len());
    // Closed by punctuation, or by a conjunction before a second name ("Iain Morrison and
    // Kirsty Bell": one of the speakers).
    let closed = outside.get(name_end).is_none_or(|&after| {
        !only_spaces_between(text, outside[name_end - 1], after)
            || is_conjunction(after.slice(text))
    });
    (name_end - position >= 2 && closed && !run_is_organisation(text, outside, position, name_end))
        .then(|| ByteSpan::new(next.start, outside[name_end - 1].end))
}

/// Endings of a number written as a person's age ("58-Jährige", "24-year-old", "46enne"),
/// lower case.
pub(super) const AGE_NOUN_SUFFIXES: &[&str] = &[
    "-year-old",
    "enne",
    "-jährige",
    "-jähriger",
    "jährige",
    "-årige",
];

/// Determiners after which Spanish "a" is a preposition (Portuguese "a" is an article, but
/// is never followed by these).
const SPANISH_DETERMINERS_AFTER_A: &[&str] = &[
    "su", "sus", "el", "los", "las", "la", "mi", "mis", "nuestro", "nuestra", "nuestros",
    "nuestras", "este", "esta", "estos", "estas",
];

/// Whether `first` is an abbreviated title whose full stop is all that separates it from the
/// next word ("Dr. Samuel Ferris", "Prof. Ana Ruiz").
fn abbreviated_title_before(text: &str, first: ByteSpan, second: ByteSpan) -> bool {
    const MAX_ABBREVIATION_BYTES: usize = 4;
    first.len() <= MAX_ABBREVIATION_BYTES
        && is_role(first.slice(text))
        && first.end <= second.start
        && text[first.end..second.start].trim_end() == "."
}

/// Whether the capitalised run `outside[start..end]` names an organisation, body or place
/// rather than a person ("Royal Association", "Regione Emilia-Romagna").
pub(super) fn run_is_organisation(
    text: &str,
    outside: &[ByteSpan],
    start: usize,
    end: usize,
) -> bool {
    (start..end).any(|i| is_organisation(outside[i].slice(text)))
}

/// The end of the run of capitalised words (and name particles) starting at `start`.
fn name_run_end(text: &str, outside: &[ByteSpan], start: usize, limit: usize) -> usize {
    let mut end = start + 1;
    while end < limit.min(outside.len())
        && end - start < 5
        && only_spaces_between(text, outside[end - 1], outside[end])
        && {
            let w = outside[end].slice(text);
            // "Carmen Lago y Ramiro Piñeiro" is two people: a conjunction after a full name,
            // before another name of two words, ends the first.
            let second_name_follows = is_conjunction(w)
                && end - start >= 2
                && (end + 1..end + 3).all(|i| {
                    outside
                        .get(i)
                        .is_some_and(|n| is_capitalized(n.slice(text)))
                });
            (is_capitalized(w) && !is_role(w))
                || (is_name_particle(w) && end + 1 < outside.len() && !second_name_follows)
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

/// The subject as written, for tests: "Linda Park (mayor)", "role: the statement (statement)",
/// "implicit".
#[cfg(test)]
impl Subject {
    pub(super) fn as_written(&self, text: &str) -> String {
        match self {
            Subject::Named { name, title: None } => name.slice(text).to_string(),
            Subject::Named {
                name,
                title: Some(title),
            } => format!("{} ({title})", name.slice(text)),
            Subject::Role { phrase, head } => format!("role: {} ({head})", phrase.slice(text)),
            Subject::Implicit => "implicit".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::words;
    use super::super::marks::find_quotes;
    use super::*;
    use crate::segment::segment;

    /// The words of `text` outside quotes, and the quotes' spans with their marks.
    fn outside_quotes(text: &str) -> (Vec<ByteSpan>, Vec<ByteSpan>) {
        let quotes: Vec<ByteSpan> = find_quotes(text, &segment(text))
            .iter()
            .map(|quote| quote.outer)
            .collect();
        let outside = words(text, 0)
            .into_iter()
            .filter(|word| {
                !quotes
                    .iter()
                    .any(|quote| quote.start <= word.start && word.end <= quote.end)
            })
            .collect();
        (outside, quotes)
    }

    fn position_of(text: &str, outside: &[ByteSpan], word: &str) -> usize {
        outside
            .iter()
            .position(|span| span.slice(text) == word)
            .unwrap_or_else(|| panic!("{word:?} is not a word of {text:?}"))
    }

    #[test]
    fn the_subject_of_a_cue_verb() {
        let cases = [
            // A name before the verb, its title split off.
            ("Mayor Linda Park said it.", "said", "Linda Park (mayor)"),
            (
                "Iran's Foreign Minister Hossein Amir-Abdollahian said it.",
                "said",
                "Hossein Amir-Abdollahian (iran's foreign minister)",
            ),
            (
                "Then spokeswoman Jen Psaki told us.",
                "told",
                "Jen Psaki (spokeswoman)",
            ),
            // Roles, and common nouns that name no person.
            (
                "The Transport minister said so.",
                "said",
                "role: The Transport minister (minister)",
            ),
            (
                "“We will not be bullied,” the Prime Minister said.",
                "said",
                "role: the Prime Minister (minister)",
            ),
            (
                "“We sign every contract,” the statement said.",
                "said",
                "role: the statement (statement)",
            ),
            // Pronouns, and names before a parenthetical.
            ("He told reporters.", "told", "implicit"),
            (
                "Robert Hale, who voted against the measure, said the plan failed.",
                "said",
                "Robert Hale",
            ),
            (
                "O'Neill, a retired teacher, said he worried.",
                "said",
                "O'Neill",
            ),
            // After the verb when it follows a quote or ends the clause ("afirmó el ministro.");
            // not when it is the subject of another verb ("says the minister told").
            (
                "“We will win,” said Tom Reyes, who runs a store.",
                "said",
                "Tom Reyes",
            ),
            (
                "« C'est fini », a déclaré le ministre.",
                "déclaré",
                "role: le ministre (ministre)",
            ),
            (
                "Nada cambiará, afirmó el ministro.",
                "afirmó",
                "role: el ministro (ministro)",
            ),
            ("and says the minister told them", "says", "implicit"),
        ];
        for (text, verb, expected) in cases {
            let (outside, quotes) = outside_quotes(text);
            let position = position_of(text, &outside, verb);
            let subject = verb_subject(text, &outside, position, &quotes);
            assert_eq!(subject.as_written(text), expected, "{text}");
        }
    }

    #[test]
    fn the_subject_after_a_cue() {
        let cases = [
            (
                "según la ministra de Trabajo, Yolanda Díaz, el plan",
                "según",
                Some("Yolanda Díaz (la ministra de trabajo)"),
            ),
            (
                "sagte Bürgermeisterin Anna Schmidt.",
                "sagte",
                Some("Anna Schmidt (bürgermeisterin)"),
            ),
            (
                "preguntó un periodista.",
                "preguntó",
                Some("role: un periodista (periodista)"),
            ),
            ("selon elle", "selon", Some("implicit")),
            ("selon, Smith", "selon", None),
            ("said the", "said", None),
        ];
        for (text, cue, expected) in cases {
            let (outside, _) = outside_quotes(text);
            let position = position_of(text, &outside, cue);
            let subject = subject_after(text, &outside, position + 1);
            assert_eq!(
                subject.map(|subject| subject.as_written(text)).as_deref(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn a_run_of_title_words_alone_is_a_role() {
        let text = "Der Minister sagte";
        let (outside, _) = outside_quotes(text);
        let subject = split_name_and_title(text, &outside, 0, 2);
        assert_eq!(subject.as_written(text), "role: Der Minister (minister)");
    }

    #[test]
    fn a_name_runs_over_capitals_and_particles_but_not_roles() {
        let run = |text: &str| {
            let (outside, _) = outside_quotes(text);
            let end = name_run_end(text, &outside, 0, outside.len());
            text[..outside[end - 1].end].to_string()
        };
        assert_eq!(run("Charles de Gaulle said"), "Charles de Gaulle");
        assert_eq!(run("Ursula von der Leyen"), "Ursula von der Leyen");
        assert_eq!(
            run("Pedro de la casa"),
            "Pedro",
            "a name does not end with a particle"
        );
        assert_eq!(run("Anna Minister Kurz"), "Anna");
    }

    #[test]
    fn a_role_written_before_a_name() {
        let title = |text: &str, run_start: &str| {
            let (outside, _) = outside_quotes(text);
            role_complement_before(text, &outside, position_of(text, &outside, run_start))
        };
        assert_eq!(
            title("la ministra de Vivienda, Isabel Romero", "Isabel").as_deref(),
            Some("ministra de vivienda")
        );
        assert_eq!(
            title("spokeswoman Jen Psaki", "Jen").as_deref(),
            Some("spokeswoman")
        );
        // The capitals are the role's complement here, not a name after it.
        assert_eq!(
            title("secrétaire général de la CFDT Laurent Berger", "CFDT"),
            None
        );
    }

    #[test]
    fn only_spaces_or_a_quote_between_words() {
        let text = "Ann, Lee  said";
        let (outside, _) = outside_quotes(text);
        assert!(!only_spaces_between(text, outside[0], outside[1]));
        assert!(only_spaces_between(text, outside[1], outside[2]));
        assert!(
            !only_spaces_between(text, outside[2], outside[1]),
            "order matters"
        );
        let text = "“Yes,” — said Ann. “No” and said";
        let (outside, quotes) = outside_quotes(text);
        assert!(follows_quote(text, outside[0], &quotes));
        assert!(follows_quote(text, outside[2], &quotes), "“No” and");
        assert!(!follows_quote(text, outside[3], &quotes), "and said");
    }
}
