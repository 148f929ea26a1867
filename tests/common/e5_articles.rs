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
