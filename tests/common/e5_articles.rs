//! Articles the team wrote for the multilingual-e5-small tests (not the dev articles of
//! tests/devdata/ranking, on which the ranking was chosen).

pub const FRENCH: &str = "\
La mairie de Port-Vallon a annoncé lundi la fermeture de la piscine municipale pendant dix-huit mois pour des travaux de rénovation.

La piscine, inaugurée en 1975, accueille chaque année environ 90 000 nageurs.

Il faisait beau et doux à Port-Vallon ce lundi.

Les travaux, estimés à 9 millions d'euros, porteront sur la toiture, le chauffage et les bassins.

Pendant la fermeture, les clubs de natation et les écoles seront accueillis dans la piscine de la commune voisine, à vingt minutes en bus.

La mairie a confirmé que la piscine restera fermée un an et demi pendant la rénovation.
";

pub const GERMAN: &str = "\
Die Stadt Hohenbrück hat am Freitag beschlossen, die Straßenbahnlinie 4 bis zum neuen Klinikum im Süden zu verlängern.

Die Linie 4 ist die älteste Straßenbahnlinie der Stadt.

Am Freitag schneite es in Hohenbrück zum ersten Mal in diesem Winter.

Die 3,5 Kilometer lange Strecke mit sechs neuen Haltestellen soll 48 Millionen Euro kosten.

Der Bau soll im Frühjahr beginnen, die ersten Bahnen sollen Ende 2028 zum Klinikum fahren.

Der Stadtrat stimmte am Freitag für die Verlängerung der Linie 4 zum Klinikum.
";

pub const RUSSIAN: &str = "\
Власти города Озёрска в среду закрыли центральный мост через реку Сеть из-за трещин в опорах.

Мост был построен в 1967 году.

В среду в Озёрске было солнечно и тепло.

Инженеры обнаружили трещины длиной до двух метров в трёх опорах моста во время плановой проверки.

Теперь жителям правобережья приходится ехать в центр в объезд, что занимает на сорок минут больше.

Мост через Сеть закрыт властями Озёрска из-за трещин в опорах.
";

// Written after e5's ranking weights were chosen on the dev set, to check them on two more
// scripts (Arabic, Chinese); nothing was tuned on them.

pub const ARABIC: &str = "\
أعلنت بلدية مدينة الساحل يوم الاثنين إغلاق السوق المركزي لمدة ستة أشهر لإعادة بنائه بعد حريق الشهر الماضي.

بني السوق عام 1952.

كان الجو معتدلا في المدينة يوم الاثنين.

وقالت البلدية إن أعمال البناء ستكلف نحو أربعة ملايين دولار وستشمل نظاما جديدا لإطفاء الحرائق.

وسينتقل نحو ثلاثمئة تاجر خلال فترة الإغلاق إلى سوق مؤقت في ساحة الملعب البلدي.

سيغلق السوق المركزي في الساحل ستة أشهر لإعادة بنائه.
";

pub const CHINESE: &str = "\
东湖市政府周四宣布，市立图书馆总馆将从下月起闭馆一年，进行抗震加固和内部改造。

图书馆建于1983年，藏书约一百二十万册。

周四东湖市阴天，有小雨。

改造工程预计投资一亿两千万元，将新增儿童阅览区和自习座位八百个。

闭馆期间，市民可在全市十四个分馆借还图书，总馆的网上借阅服务照常开放。

东湖市图书馆总馆将闭馆一年进行改造。
";

/// The team's non-English dev articles of tests/devdata/summaries as plain text (one sentence a
/// line after its label, "3" or "8=5"), named by file.
pub fn non_english_summary_devdata() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/devdata/summaries");
    let mut articles = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".txt") && !name.starts_with("en-") {
            let text: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once(' ').map(|(_, s)| s.to_string()))
                .collect::<Vec<_>>()
                .join("\n\n");
            articles.push((name, text));
        }
    }
    articles
}
