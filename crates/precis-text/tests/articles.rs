//! Quotes, spans and speakers on short articles written for these tests, each in the quote
//! conventions of its language.

use std::sync::OnceLock;

use precis_text::language::LanguageDetector;
use precis_text::quotes::{extract_quotes, Quote, SpeakerKind};
use precis_text::segment::segment;

fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(LanguageDetector::new)
}

fn quotes_of(article: &str) -> Vec<Quote> {
    let quotes = extract_quotes(article, &segment(article), detector());
    for quote in &quotes {
        assert_eq!(&article[quote.span.range()], quote.text);
        assert!(
            quote.outer_span.start <= quote.span.start && quote.span.end <= quote.outer_span.end
        );
        assert!((0.0..=1.0).contains(&quote.confidence));
        assert!((0.0..=1.0).contains(&quote.salience));
        if let Some(speaker) = &quote.speaker {
            assert_eq!(&article[speaker.span.range()], speaker.name);
        }
    }
    quotes
}

/// (quote text, speaker name or None, speaker kind, cue verb)
type Expected<'a> = (
    &'a str,
    Option<&'a str>,
    Option<SpeakerKind>,
    Option<&'a str>,
);

fn assert_quotes(article: &str, expected: &[Expected]) {
    let quotes = quotes_of(article);
    let found: Vec<Expected> = quotes
        .iter()
        .map(|q| {
            (
                q.text.as_str(),
                q.speaker.as_ref().map(|s| s.name.as_str()),
                q.speaker.as_ref().map(|s| s.kind),
                q.cue_verb.as_deref(),
            )
        })
        .collect();
    assert_eq!(found, expected);
}

const FRENCH: &str = "Grève des transports : le gouvernement tient bon

La ministre des Transports, Claire Dubois, a défendu mardi la réforme. « Nous ne reculerons pas sur l'essentiel », a-t-elle déclaré devant les députés.

Selon le syndicaliste Marc Lefèvre, « la colère monte dans les dépôts ». Il a ajouté : « Les salariés sont épuisés. »

Le porte-parole du gouvernement a estimé que la mobilisation « restait limitée ».

— Nous attendons un geste concret, lance Sophie Martin, conductrice depuis douze ans.
— Alors nous continuerons jusqu'au bout, répond-elle.
";

#[test]
fn french_guillemets_incises_and_dialogue() {
    use SpeakerKind::*;
    assert_quotes(
        FRENCH,
        &[
            (
                "Nous ne reculerons pas sur l'essentiel",
                Some("Claire Dubois"),
                Some(Resolved),
                Some("déclaré"),
            ),
            (
                "la colère monte dans les dépôts",
                Some("Marc Lefèvre"),
                Some(Named),
                Some("Selon"),
            ),
            (
                "Les salariés sont épuisés.",
                Some("Marc Lefèvre"),
                Some(Resolved),
                Some("a ajouté"),
            ),
            (
                "restait limitée",
                Some("Le porte-parole du gouvernement"),
                Some(TitleOnly),
                Some("a estimé"),
            ),
            (
                "Nous attendons un geste concret",
                Some("Sophie Martin"),
                Some(Named),
                Some("lance"),
            ),
            (
                "Alors nous continuerons jusqu'au bout",
                Some("Sophie Martin"),
                Some(Resolved),
                Some("répond-elle"),
            ),
        ],
    );
}

#[test]
fn quote_language_is_detected_on_its_own() {
    let quotes = quotes_of(FRENCH);
    assert_eq!(quotes[0].language.iso639_1, "fr");
    // Two words are too few to tell.
    assert!(quotes[3].language.is_undetermined() || quotes[3].language.confidence < 0.9);
}

const GERMAN: &str = "Stadtrat beschließt neues Radwegenetz

Der Stadtrat hat am 3. Oktober ein neues Radwegenetz beschlossen. „Das ist ein guter Tag für alle, die in der Stadt unterwegs sind“, sagte Bürgermeisterin Anna Schmidt nach der Abstimmung.

Die Opposition sieht das anders. „Das Geld fehlt an anderer Stelle“, so Fraktionschef Peter Wagner. Die Kosten lägen bei rund 2,5 Mio. Euro.

Verkehrsexperte Jonas Becker erklärte, das Netz sei „überfällig“. Er fügte hinzu: „Andere Städte sind uns z. B. beim Ausbau weit voraus.“
";

#[test]
fn german_low_high_quotes_so_and_sagte() {
    use SpeakerKind::*;
    assert_quotes(
        GERMAN,
        &[
            (
                "Das ist ein guter Tag für alle, die in der Stadt unterwegs sind",
                Some("Anna Schmidt"),
                Some(Named),
                Some("sagte"),
            ),
            (
                "Das Geld fehlt an anderer Stelle",
                Some("Peter Wagner"),
                Some(Named),
                Some("so"),
            ),
            (
                "überfällig",
                Some("Jonas Becker"),
                Some(Named),
                Some("erklärte"),
            ),
            (
                "Andere Städte sind uns z. B. beim Ausbau weit voraus.",
                Some("Jonas Becker"),
                Some(Resolved),
                Some("fügte"),
            ),
        ],
    );
}

#[test]
fn german_title_is_split_from_the_name() {
    let quotes = quotes_of(GERMAN);
    let speaker = quotes[0].speaker.as_ref().unwrap();
    assert_eq!(speaker.title.as_deref(), Some("bürgermeisterin"));
    assert_eq!(quotes[0].language.iso639_1, "de");
}

const SPANISH: &str = "El Gobierno aprueba el plan de vivienda

La ministra de Vivienda, Isabel Romero, presentó el plan el martes. «Es la mayor inversión en vivienda pública de nuestra historia», afirmó Romero en rueda de prensa.

Según el economista Luis Herrera, “el plan llega tarde, pero va en la buena dirección”. Herrera dijo que los precios “no bajarán este año”.

—No vamos a permitir más desahucios —aseguró la ministra—. Lo haremos con todos los recursos del Estado.
";

#[test]
fn spanish_angle_quotes_segun_and_raya_dialogue() {
    use SpeakerKind::*;
    assert_quotes(
        SPANISH,
        &[
            (
                "Es la mayor inversión en vivienda pública de nuestra historia",
                Some("Romero"),
                Some(Named),
                Some("afirmó"),
            ),
            (
                "el plan llega tarde, pero va en la buena dirección",
                Some("Luis Herrera"),
                Some(Named),
                Some("Según"),
            ),
            (
                "no bajarán este año",
                Some("Herrera"),
                Some(Named),
                Some("dijo"),
            ),
            (
                "No vamos a permitir más desahucios",
                Some("Romero"),
                Some(Resolved),
                Some("aseguró"),
            ),
            (
                "Lo haremos con todos los recursos del Estado.",
                Some("Romero"),
                Some(Resolved),
                Some("aseguró"),
            ),
        ],
    );
}

#[test]
fn dialogue_outer_span_starts_at_the_dash() {
    let quotes = quotes_of(SPANISH);
    let dialogue = &quotes[3];
    assert!(SPANISH[dialogue.outer_span.range()].starts_with('—'));
    assert_eq!(dialogue.language.iso639_1, "es");
}

const ENGLISH: &str = "Council approves new bridge

The Transport minister said the bridge would open in 2027. \"We have waited long enough,\" the Transport minister told reporters.

Mayor Linda Park welcomed the decision. “This bridge will connect two halves of our city,” she said. “People told me ‘build it now’ at every meeting.

“Today we are finally doing it.”

According to engineer Tom Reyes, the design is “safe, simple and cheap”. Critics dismissed it as a “vanity project”.
";

#[test]
fn english_title_only_pronoun_nested_and_multi_paragraph() {
    use SpeakerKind::*;
    let multi_paragraph =
        "People told me ‘build it now’ at every meeting.\n\n“Today we are finally doing it.";
    assert_quotes(
        ENGLISH,
        &[
            (
                "We have waited long enough,",
                Some("the Transport minister"),
                Some(TitleOnly),
                Some("told"),
            ),
            (
                "This bridge will connect two halves of our city,",
                Some("Linda Park"),
                Some(Resolved),
                Some("said"),
            ),
            (
                multi_paragraph,
                Some("Linda Park"),
                Some(Resolved),
                Some("said"),
            ),
            (
                "safe, simple and cheap",
                Some("Tom Reyes"),
                Some(Named),
                Some("According"),
            ),
        ],
    );
}

#[test]
fn salience_prefers_long_attributed_quotes() {
    let quotes = quotes_of(ENGLISH);
    let long = quotes
        .iter()
        .find(|q| q.text.starts_with("This bridge"))
        .unwrap();
    let short = quotes.iter().find(|q| q.text.starts_with("safe")).unwrap();
    assert!(long.salience > short.salience);
}

#[test]
fn sentence_index_points_at_the_quote() {
    let segmentation = segment(ENGLISH);
    let quotes = extract_quotes(ENGLISH, &segmentation, detector());
    for quote in quotes {
        let sentence = &segmentation.sentences[quote.sentence_index];
        assert!(sentence.span.start <= quote.span.start && quote.span.start < sentence.span.end);
    }
}

const ENGLISH_WIRE: &str = "Port strike enters second week

The dockworkers' union rejected the latest offer on Friday. Union leader Carla Benton, who has led the walkout since Monday, said the offer \"ignores everything we asked for.\"

\"We will stay out as long as it takes,\" said Owen Pike, a crane operator at the north terminal. Pike, who has worked at the port for 22 years, said he had never seen morale so high.

A port authority spokesman said talks would resume \"as soon as both sides are ready.\"
";

#[test]
fn english_parenthetical_subjects_and_apposition() {
    use SpeakerKind::*;
    assert_quotes(
        ENGLISH_WIRE,
        &[
            (
                "ignores everything we asked for.",
                Some("Carla Benton"),
                Some(Named),
                Some("said"),
            ),
            (
                "We will stay out as long as it takes,",
                Some("Owen Pike"),
                Some(Named),
                Some("said"),
            ),
            (
                "as soon as both sides are ready.",
                Some("A port authority spokesman"),
                Some(TitleOnly),
                Some("said"),
            ),
        ],
    );
}

const SPANISH_INTERVIEW: &str = "La alcaldesa de Villanueva, Rosa Medina, inauguró ayer el nuevo mercado. “Es un sueño cumplido”, dijo Medina, quien añadió que las obras “terminaron a tiempo”.

—¿Y el aparcamiento? —preguntó un vecino.
—Estará listo en marzo —respondió la alcaldesa.
";

#[test]
fn spanish_relative_pronoun_and_dialogue_roles() {
    use SpeakerKind::*;
    assert_quotes(
        SPANISH_INTERVIEW,
        &[
            (
                "Es un sueño cumplido",
                Some("Medina"),
                Some(Named),
                Some("dijo"),
            ),
            (
                "terminaron a tiempo",
                Some("Medina"),
                Some(Resolved),
                Some("añadió"),
            ),
            (
                "¿Y el aparcamiento?",
                Some("un vecino"),
                Some(TitleOnly),
                Some("preguntó"),
            ),
            (
                "Estará listo en marzo",
                Some("Medina"),
                Some(Resolved),
                Some("respondió"),
            ),
        ],
    );
}

const BRITISH: &str = "The Prime Minister faced a rebellion on Tuesday. ‘We will not be bullied into a bad deal,’ she told MPs, adding that voters’ patience was ‘not unlimited’.

Speaking later, the Chancellor said the budget ‘will go ahead as planned’.
";

#[test]
fn british_single_quotes_and_roles_without_names() {
    use SpeakerKind::*;
    assert_quotes(
        BRITISH,
        &[
            (
                "We will not be bullied into a bad deal,",
                Some("The Prime Minister"),
                Some(TitleOnly),
                Some("told"),
            ),
            (
                "not unlimited",
                Some("The Prime Minister"),
                Some(TitleOnly),
                Some("adding"),
            ),
            (
                "will go ahead as planned",
                Some("the Chancellor"),
                Some(TitleOnly),
                Some("said"),
            ),
        ],
    );
}
