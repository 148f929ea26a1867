#!/usr/bin/env python3
"""Test-model factory for precis.

Makes small seq2seq models of the architectures rust-bert uses for summarization (BART) and
translation (Marian), with RANDOM weights and vocabularies trained here on a built-in corpus.
They exist to exercise loading, batching, generation, cancellation and memory behaviour; their
output is meaningless and nothing may present it as a result.

    python scripts/make_test_models.py --out DIR [--real-dims] [--seed N]

Writes, under DIR:
    tiny-bart/                       BART, byte-level BPE vocabulary  (rust-bert ModelType::Bart)
    tiny-marian-en-es/               Marian, SentencePiece vocabulary (rust-bert ModelType::Marian)
  with --real-dims, also (random weights, real sizes, for per-token cost benchmarks):
    bench-distilbart-cnn-6-6-random/ dimensions of sshleifer/distilbart-cnn-6-6
    bench-opus-mt-en-es-random/      dimensions of Helsinki-NLP/opus-mt-en-es
    hub/<repo>/                      the tiny models as Hugging Face repositories hold them,
                                     for the loopback test hub of `precis models pull`
                                     (tiny-marian-en-es, tiny-marian-en-es-bin, tiny-bart)

Each directory holds config.json, model.safetensors (Hugging Face names, so Python
`transformers` loads it with from_pretrained), the vocabulary files and PRECIS_TEST_MODEL.txt.
rust-bert reads weights from `rust_model.ot`; `precis models convert DIR` makes it from
model.safetensors (the setup script calls it). Files per model:
    BART:   config.json  vocab.json  merges.txt  model.safetensors
    Marian: config.json  vocab.json  source.spm  target.spm  model.safetensors
            (rust-bert: vocab resource = vocab.json, merges resource = source.spm;
             target.spm is a copy so that Python's MarianTokenizer loads the directory too)

Deterministic for a given --seed; idempotent: a model whose directory is complete (marker file
present with the same recipe) is skipped; a model is built in a temporary directory beside its
destination and renamed into place, so a directory never appears half written.
"""

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Keep torch (and the tokenizer trainers) to at most two threads: the machines are small and shared.
THREADS = min(2, os.cpu_count() or 1)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from tokenizers import ByteLevelBPETokenizer  # noqa: E402
from transformers import (  # noqa: E402
    BartConfig,
    BartForConditionalGeneration,
    MarianConfig,
    MarianMTModel,
)

# Bump when a recipe changes so that existing directories are rebuilt.
FACTORY_VERSION = 1
MARKER = "PRECIS_TEST_MODEL.txt"

# ---------------------------------------------------------------------------------------------
# Built-in corpus: short news-like sentences in English and Spanish, written for this script,
# plus sentences assembled from phrase lists (deterministic for a seed). Only used to train the
# vocabularies; the models never see it.
# ---------------------------------------------------------------------------------------------

EN_TEXT = """
The city council approved a new budget on Tuesday after a debate that lasted nine hours.
Officials said the bridge over the river will stay closed until the end of the month.
Heavy rain flooded dozens of homes in the northern valley overnight.
The central bank kept interest rates unchanged, citing uncertainty about energy prices.
Teachers in three provinces walked out of their classrooms to demand higher wages.
"We will not accept cuts to public health," the union leader told reporters outside parliament.
A spokesperson for the airline said about 120 flights were cancelled because of the storm.
Police arrested two men suspected of stealing copper cable from the railway line.
The prime minister is expected to travel to Brussels next week for talks on trade.
Farmers warned that the drought could halve this year's wheat harvest.
Unemployment fell to 6.2 percent in October, the lowest level in a decade.
The museum reopened its doors after a renovation that cost 14 million euros.
Scientists at the university published a study on the decline of coastal wetlands.
Voters in the southern region will elect a new governor on Sunday.
The company announced that it would cut 800 jobs as part of a restructuring plan.
Firefighters brought the forest fire under control after three days of work.
The minister of education promised new computers for every rural school.
Opposition lawmakers accused the government of hiding the true cost of the project.
Thousands of people marched through the capital to protest against rising rents.
The hospital said the injured driver was in a stable condition.
Exports of coffee rose sharply in the first quarter, according to official figures.
The court ruled that the mining licence had been granted illegally.
"This is a historic day for our town," the mayor said at the opening ceremony.
Doctors are urging older residents to get vaccinated before the winter.
The national team qualified for the final after beating its rivals two to one.
A new law will require supermarkets to donate food that is close to its expiry date.
The earthquake, which struck shortly after midnight, damaged roads and power lines.
Negotiators said they had made progress but that several issues remained open.
Fuel prices climbed for the fourth week in a row, angering truck drivers.
The president signed a decree creating a national park in the mountains.
Researchers found traces of plastic in every sample of sea water they collected.
The trial of the former mayor is due to begin in March.
Local businesses complained that the new parking rules were driving customers away.
The United Nations called for an immediate ceasefire and access for aid workers.
Electricity was restored to most neighbourhoods by early evening.
The report said that one in five children lives in a household without enough food.
According to the statement, the agreement will be reviewed every two years.
The festival attracted more than forty thousand visitors over the weekend.
Investigators are still trying to determine what caused the train to leave the tracks.
The government plans to build ten thousand affordable homes by 2030.
Health officials confirmed five new cases of the disease in the coastal city.
The strike by port workers has delayed the delivery of thousands of containers.
"Nobody told us the water was contaminated," one resident said.
The ministry of finance expects the economy to grow by two percent next year.
Students staged a sit-in at the university to demand lower tuition fees.
The ferry service between the islands will resume on Friday if the weather improves.
Prosecutors say the network laundered money through a chain of car dealerships.
The new metro line will connect the airport with the city centre in twenty minutes.
Environmental groups criticised the decision to allow drilling near the reserve.
The senator said she would vote against the bill unless it was amended.
Rescue teams pulled four survivors from the rubble of the collapsed building.
Inflation slowed in September as food prices stabilised.
The football club fired its coach after a series of heavy defeats.
Water restrictions will remain in place for the rest of the summer.
The foreign minister met her counterpart to discuss the border dispute.
A fire at a textile factory killed three workers and injured eleven others.
The census showed that the population of the capital has doubled since 1990.
Critics say the reform gives too much power to the interior ministry.
The company's profits rose by 18 percent thanks to strong sales abroad.
Residents were evacuated as the river rose above its banks.
The new hospital wing will add two hundred beds and a modern emergency room.
The election commission said turnout was higher than in previous years.
Wildlife officials are investigating the deaths of dozens of birds near the lake.
The central government will send extra funds to the regions hit by the floods.
"We need answers, not promises," said the mother of one of the victims.
The airline is negotiating with pilots to avoid another strike during the holidays.
A survey found that most young people get their news from social media.
The police chief resigned after the publication of a report on abuses in the force.
Shares in the bank fell after it reported losses on its property loans.
The summit ended without a joint declaration on climate finance.
The road between the two towns is expected to reopen on Monday morning.
Doctors performed the first transplant of its kind in the country.
The writer received the national literature prize for her third novel.
Authorities closed the beaches after a spill of oil was detected near the port.
The cabinet approved a plan to modernise the railway network over ten years.
The minimum wage will rise by five percent from January.
Witnesses said the fire started in a kitchen on the ground floor.
The referendum on the new constitution has been postponed until the autumn.
The bakery on Main Street has been run by the same family for four generations.
Analysts expect oil prices to remain volatile in the coming months.
"""

ES_TEXT = """
El ayuntamiento aprobó el martes un nuevo presupuesto tras un debate de nueve horas.
Las autoridades informaron de que el puente sobre el río seguirá cerrado hasta final de mes.
Las lluvias torrenciales inundaron decenas de viviendas en el valle del norte durante la noche.
El banco central mantuvo los tipos de interés sin cambios ante la incertidumbre energética.
Los maestros de tres provincias abandonaron las aulas para exigir salarios más altos.
«No aceptaremos recortes en la sanidad pública», dijo el líder sindical ante el Congreso.
Una portavoz de la aerolínea explicó que se cancelaron unos 120 vuelos por la tormenta.
La policía detuvo a dos hombres sospechosos de robar cable de cobre de la vía del tren.
Se espera que el presidente del Gobierno viaje a Bruselas la próxima semana.
Los agricultores advirtieron que la sequía podría reducir a la mitad la cosecha de trigo.
El desempleo bajó al 6,2 por ciento en octubre, el nivel más bajo de la última década.
El museo reabrió sus puertas después de una reforma que costó 14 millones de euros.
Científicos de la universidad publicaron un estudio sobre la pérdida de humedales costeros.
Los votantes de la región del sur elegirán un nuevo gobernador el domingo.
La empresa anunció que recortará 800 empleos dentro de un plan de reestructuración.
Los bomberos controlaron el incendio forestal después de tres días de trabajo.
La ministra de Educación prometió ordenadores nuevos para todas las escuelas rurales.
Los diputados de la oposición acusaron al Gobierno de ocultar el coste real del proyecto.
Miles de personas marcharon por la capital para protestar contra la subida de los alquileres.
El hospital indicó que el conductor herido se encuentra en estado estable.
Las exportaciones de café crecieron con fuerza en el primer trimestre, según datos oficiales.
El tribunal dictaminó que la licencia minera se había concedido de forma ilegal.
«Es un día histórico para nuestro pueblo», afirmó la alcaldesa durante la inauguración.
Los médicos piden a los mayores que se vacunen antes de la llegada del invierno.
La selección nacional se clasificó para la final tras ganar a su rival por dos a uno.
Una nueva ley obligará a los supermercados a donar los alimentos próximos a caducar.
El terremoto, que se produjo poco después de la medianoche, dañó carreteras y tendidos eléctricos.
Los negociadores dijeron que hubo avances, aunque varios asuntos siguen abiertos.
El precio del combustible subió por cuarta semana consecutiva y enfadó a los camioneros.
El presidente firmó un decreto que crea un parque nacional en la sierra.
Los investigadores hallaron restos de plástico en todas las muestras de agua de mar.
El juicio contra el exalcalde comenzará previsiblemente en marzo.
Los comercios del barrio dicen que las nuevas normas de aparcamiento ahuyentan a los clientes.
Naciones Unidas pidió un alto el fuego inmediato y acceso para la ayuda humanitaria.
La electricidad volvió a la mayoría de los barrios a primera hora de la tarde.
El informe señala que uno de cada cinco niños vive en un hogar sin comida suficiente.
Según el comunicado, el acuerdo se revisará cada dos años.
El festival atrajo a más de cuarenta mil visitantes durante el fin de semana.
Los investigadores todavía intentan averiguar por qué descarriló el tren.
El Gobierno prevé construir diez mil viviendas asequibles antes de 2030.
Sanidad confirmó cinco nuevos casos de la enfermedad en la ciudad costera.
La huelga de los estibadores ha retrasado la entrega de miles de contenedores.
«Nadie nos dijo que el agua estaba contaminada», contó una vecina.
El Ministerio de Hacienda calcula que la economía crecerá un dos por ciento el año próximo.
Los estudiantes ocuparon la universidad para reclamar matrículas más baratas.
El servicio de transbordador entre las islas se reanudará el viernes si mejora el tiempo.
La fiscalía sostiene que la red blanqueaba dinero a través de concesionarios de coches.
La nueva línea de metro unirá el aeropuerto con el centro en veinte minutos.
Los grupos ecologistas criticaron la autorización de perforaciones junto a la reserva.
La senadora dijo que votará en contra de la ley si no se modifica.
Los equipos de rescate sacaron con vida a cuatro personas de los escombros del edificio.
La inflación se moderó en septiembre gracias a la estabilidad de los alimentos.
El club de fútbol destituyó a su entrenador tras una serie de derrotas.
Las restricciones de agua seguirán vigentes durante el resto del verano.
La ministra de Asuntos Exteriores se reunió con su homólogo para hablar de la frontera.
Un incendio en una fábrica textil causó la muerte de tres trabajadores y once heridos.
El censo muestra que la población de la capital se ha duplicado desde 1990.
Los críticos afirman que la reforma concede demasiado poder al Ministerio del Interior.
Los beneficios de la compañía aumentaron un 18 por ciento gracias a las ventas en el extranjero.
Los vecinos fueron desalojados cuando el río se desbordó.
El nuevo pabellón del hospital sumará doscientas camas y un servicio de urgencias moderno.
La junta electoral aseguró que la participación fue mayor que en años anteriores.
Los guardas forestales investigan la muerte de decenas de aves cerca de la laguna.
El Gobierno central enviará fondos adicionales a las regiones afectadas por las inundaciones.
«Necesitamos respuestas, no promesas», dijo la madre de una de las víctimas.
La aerolínea negocia con los pilotos para evitar otra huelga en vacaciones.
Una encuesta revela que la mayoría de los jóvenes se informa a través de las redes sociales.
El jefe de policía dimitió tras la publicación de un informe sobre abusos en el cuerpo.
Las acciones del banco cayeron después de anunciar pérdidas en sus préstamos inmobiliarios.
La cumbre terminó sin una declaración conjunta sobre financiación climática.
Está previsto que la carretera entre los dos pueblos se reabra el lunes por la mañana.
Los médicos realizaron el primer trasplante de este tipo en el país.
La escritora recibió el premio nacional de literatura por su tercera novela.
Las autoridades cerraron las playas tras detectar un vertido de petróleo cerca del puerto.
El Consejo de Ministros aprobó un plan para modernizar la red ferroviaria en diez años.
El salario mínimo subirá un cinco por ciento a partir de enero.
Según los testigos, el fuego comenzó en una cocina de la planta baja.
El referéndum sobre la nueva constitución se ha aplazado hasta el otoño.
La panadería de la calle Mayor lleva cuatro generaciones en manos de la misma familia.
Los analistas prevén que el precio del petróleo siga siendo volátil en los próximos meses.
"""

# Phrase lists for assembled sentences: subject, verb, object, time.
EN_PHRASES = (
    ["The mayor", "The health ministry", "Union leaders", "A company spokesperson",
     "Researchers", "The central bank", "Opposition parties", "The regional government",
     "Local residents", "The foreign minister", "Aid agencies", "The electoral board"],
    ["announced", "criticised", "welcomed", "postponed", "reviewed", "defended",
     "questioned", "approved", "rejected", "described"],
    ["a plan to expand bus services", "the new tax on fuel", "the results of the vote",
     "a report on air quality", "the closure of two clinics", "a deal with its neighbours",
     "the rising price of bread", "the budget for schools", "new rules for landlords",
     "the investigation into the accident"],
    ["on Monday", "last week", "earlier this year", "after months of talks",
     "at a news conference", "in a statement on Friday", "during the night", "this morning"],
)
ES_PHRASES = (
    ["El alcalde", "El Ministerio de Sanidad", "Los sindicatos", "Un portavoz de la empresa",
     "Los investigadores", "El banco central", "Los partidos de la oposición",
     "El gobierno regional", "Los vecinos", "La ministra de Exteriores",
     "Las organizaciones humanitarias", "La junta electoral"],
    ["anunció", "criticó", "celebró", "aplazó", "revisó", "defendió", "cuestionó",
     "aprobó", "rechazó", "describió"],
    ["un plan para ampliar el autobús", "el nuevo impuesto al combustible",
     "los resultados de la votación", "un informe sobre la calidad del aire",
     "el cierre de dos centros de salud", "un acuerdo con los países vecinos",
     "la subida del precio del pan", "el presupuesto para las escuelas",
     "nuevas normas para los propietarios", "la investigación del accidente"],
    ["el lunes", "la semana pasada", "a principios de año", "tras meses de negociaciones",
     "en rueda de prensa", "en un comunicado el viernes", "durante la noche", "esta mañana"],
)


def corpus(seed: int, assembled_per_language: int = 160) -> list[str]:
    """Hand-written sentences plus assembled ones, in a deterministic order."""
    rng = random.Random(seed)
    lines = [s for s in (EN_TEXT + ES_TEXT).splitlines() if s.strip()]
    for subjects, verbs, objects, times in (EN_PHRASES, ES_PHRASES):
        for _ in range(assembled_per_language):
            lines.append(f"{rng.choice(subjects)} {rng.choice(verbs)} "
                         f"{rng.choice(objects)} {rng.choice(times)}.")
    return lines


# ---------------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------------

# BART / RoBERTa special tokens, at the ids BART uses (<s>=0 <pad>=1 </s>=2 <unk>=3); rust-bert's
# RoBERTa-style vocabulary requires all five to be present.
BART_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def train_bpe(lines: list[str], vocab_size: int, out: Path) -> dict[str, int]:
    """Byte-level BPE (GPT-2/RoBERTa style) -> out/vocab.json, out/merges.txt."""
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=2,
                            special_tokens=BART_SPECIALS, show_progress=False)
    tok.save_model(str(out))  # merges.txt starts with a "#version" line, which rust-bert skips
    vocab = json.loads((out / "vocab.json").read_text())
    assert all(vocab[t] == i for i, t in enumerate(BART_SPECIALS)), "special token ids moved"
    return vocab


def train_spm(lines: list[str], vocab_size: int, out: Path, seed: int) -> dict[str, int]:
    """SentencePiece unigram model, laid out like the opus-mt models:
    </s>=0, <unk>=1, the pieces, then <pad> as the LAST id (it is not a SentencePiece piece:
    it only exists in vocab.json and the embedding matrix). -> source.spm, target.spm, vocab.json.
    """
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()  # in memory: a file prefix would be recorded inside the model
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size - 1,
        model_type="unigram", character_coverage=1.0, eos_id=0, unk_id=1, bos_id=-1,
        pad_id=-1, num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab["<pad>"] = len(vocab)
    # rust-bert tokenizes with source.spm and maps pieces to ids through vocab.json; one joint
    # model serves both languages, so target.spm is the same file.
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(model.getvalue())
    return vocab


def pad_vocab(vocab: dict[str, int], size: int, keep_last: str | None = None) -> dict[str, int]:
    """Grow a trained vocabulary to `size` ids with placeholder tokens ("<unused_N>").

    --real-dims models keep the tiny trained vocabulary (so the tokenizer still works) inside an
    embedding of the real size: the placeholders are never produced by tokenization but can be
    generated and decoded, and the output projection/softmax costs what the real model's does.
    `keep_last` moves one token (Marian's <pad>) to the last id, as in the real model.
    """
    vocab = dict(vocab)
    last = vocab.pop(keep_last) if keep_last else None
    limit = size - (1 if keep_last else 0)
    assert len(vocab) <= limit, f"trained vocabulary ({len(vocab)}) larger than {size}"
    for i in range(len(vocab), limit):
        vocab[f"<unused_{i}>"] = i
    if keep_last:
        assert last is not None
        vocab[keep_last] = size - 1
    return vocab


# ---------------------------------------------------------------------------------------------
# Model recipes. Dimensions of the real checkpoints are copied from their published configs.
# ---------------------------------------------------------------------------------------------

# Tiny models keep the real models' position limits (inputs are truncated where the real ones
# would be) and use a larger init_std than the usual 0.02: with 0.02 a tiny random model emits the
# same tokens whatever its input, which would hide batching bugs (outputs swapped between inputs).
TINY_INIT_STD = 0.3
BART_TINY = dict(init_std=TINY_INIT_STD, d_model=32, encoder_layers=2, decoder_layers=2,
                 encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                 decoder_ffn_dim=64, max_position_embeddings=1024)
BART_TINY_GEN = dict(max_length=24, min_length=4, num_beams=2, no_repeat_ngram_size=3,
                     length_penalty=1.0, early_stopping=True)
BART_REAL = dict(d_model=1024, encoder_layers=6, decoder_layers=6, encoder_attention_heads=16,
                 decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096,
                 max_position_embeddings=1024, vocab_size=50264)
BART_REAL_GEN = dict(max_length=142, min_length=56, num_beams=4, no_repeat_ngram_size=3,
                     length_penalty=2.0, early_stopping=True)

MARIAN_TINY = dict(init_std=TINY_INIT_STD, d_model=32, encoder_layers=2, decoder_layers=2,
                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                   decoder_ffn_dim=64, max_position_embeddings=512)
MARIAN_TINY_GEN = dict(max_length=24, num_beams=2)
MARIAN_REAL = dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                   decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                   max_position_embeddings=512, vocab_size=65001)
MARIAN_REAL_GEN = dict(max_length=512, num_beams=4)

TINY_BPE_VOCAB = 1000
TINY_SPM_VOCAB = 1000  # including <pad>


def save_weights(model: torch.nn.Module, path: Path, tied_aliases: list[str]) -> None:
    """Write model.safetensors with Hugging Face names (from_pretrained loads it).

    The token embedding is stored once, as `model.shared.weight` (which is what rust-bert's
    BART/Marian read; they compute the LM head from it). Its tied aliases (encoder/decoder
    embed_tokens, lm_head) are dropped as save_pretrained does, since safetensors refuses shared
    storage. Unlike save_pretrained, Marian's sinusoidal `embed_positions.weight` tables are
    KEPT: transformers recomputes them on load, but rust-bert loads them as ordinary weights.
    `final_logits_bias` (zeros) is kept: rust-bert's Marian requires it, BART ignores it.
    """
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()
             if k not in tied_aliases}
    assert "model.shared.weight" in state
    save_file(state, str(path), metadata={"format": "pt"})


def write_config(config, path: Path, extra: dict) -> None:
    """config.json: the transformers config plus keys rust-bert reads (with BART defaults)."""
    data = config.to_diff_dict()  # what save_pretrained writes: the model's keys, no noise
    data.pop("_attn_implementation_autoset", None)
    data.update(extra)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_bart(out: Path, lines: list[str], real: bool) -> None:
    vocab = train_bpe(lines, TINY_BPE_VOCAB, out)
    dims = dict(BART_REAL if real else BART_TINY)
    vocab_size = dims.pop("vocab_size", len(vocab))
    if real:
        # <mask> keeps its trained id; placeholders fill the rest of the real-size embedding.
        vocab = pad_vocab(vocab, vocab_size)
        (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    gen = BART_REAL_GEN if real else BART_TINY_GEN
    config = BartConfig(
        vocab_size=vocab_size, **dims, activation_function="gelu",
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
        forced_bos_token_id=0, forced_eos_token_id=2, scale_embedding=False,
        architectures=["BartForConditionalGeneration"], **gen)
    model = BartForConditionalGeneration(config).eval()
    save_weights(model, out / "model.safetensors", [
        "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
        "lm_head.weight"])
    # rust-bert's BartConfig: learned positions (offset 2) and layernorm_embedding, as in BART.
    write_config(config, out / "config.json",
                 {"static_position_embeddings": False, "normalize_embedding": True})


def build_marian(out: Path, lines: list[str], real: bool, seed: int) -> None:
    vocab = train_spm(lines, TINY_SPM_VOCAB, out, seed)
    dims = dict(MARIAN_REAL if real else MARIAN_TINY)
    vocab_size = dims.pop("vocab_size", len(vocab))
    if real:
        vocab = pad_vocab(vocab, vocab_size, keep_last="<pad>")
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    pad = vocab["<pad>"]
    assert pad == vocab_size - 1 and vocab["</s>"] == 0 and vocab["<unk>"] == 1
    gen = MARIAN_REAL_GEN if real else MARIAN_TINY_GEN
    config = MarianConfig(
        vocab_size=vocab_size, decoder_vocab_size=vocab_size, **dims,
        activation_function="swish", scale_embedding=True, share_encoder_decoder_embeddings=True,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        # Marian starts decoding from <pad>; </s> ends a sequence. rust-bert's defaults (pad
        # 58100) are for one specific checkpoint, so both ids are written explicitly.
        pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0, forced_eos_token_id=0,
        bos_token_id=0, bad_words_ids=[[pad]], architectures=["MarianMTModel"], **gen)
    model = MarianMTModel(config).eval()
    save_weights(model, out / "model.safetensors", [
        "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
        "lm_head.weight"])
    # rust-bert runs Marian through its BART modules: these two keys (absent from transformers'
    # MarianConfig) select sinusoidal positions without offset and no layernorm_embedding.
    write_config(config, out / "config.json",
                 {"static_position_embeddings": True, "normalize_embedding": False})


# ---------------------------------------------------------------------------------------------
# Driver: idempotent, atomic builds
# ---------------------------------------------------------------------------------------------

MODEL_FILES = {
    "bart": ["config.json", "vocab.json", "merges.txt", "model.safetensors"],
    "marian": ["config.json", "vocab.json", "source.spm", "target.spm", "model.safetensors"],
}


def marker_text(name: str, recipe: str) -> str:
    return (f"{name}: RANDOM WEIGHTS, made by scripts/make_test_models.py.\n"
            "For mechanics only (loading, batching, generation, memory, speed).\n"
            "Its output is meaningless and must never be presented as a result.\n"
            f"recipe: {recipe}\n")


def is_complete(path: Path, kind: str, marker: str) -> bool:
    m = path / MARKER
    return (m.is_file() and m.read_text() == marker
            and all((path / f).is_file() for f in MODEL_FILES[kind]))


def make(out: Path, name: str, kind: str, build, seed: int) -> None:
    dest = out / name
    marker = marker_text(name, f"{name} factory-v{FACTORY_VERSION} seed={seed}")
    if is_complete(dest, kind, marker):
        print(f"{name}: complete, skipped")
        return
    for stale in out.glob(f".{name}.*-*"):  # left by an interrupted run over an hour ago
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model directory is not secret
    try:
        torch.manual_seed(seed)  # same seed, same weights
        build(tmp)
        (tmp / MARKER).write_text(marker)  # written last: its presence means "complete"
        if dest.exists():  # incomplete or an older recipe: move it aside, then replace it
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=out))
            os.rename(dest, old / name)
            shutil.rmtree(old)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_complete(dest, kind, marker):  # a concurrent run may have finished it
            raise
    size = sum(f.stat().st_size for f in dest.iterdir()) / 1e6
    print(f"{name}: built in {time.monotonic() - start:.1f}s ({size:.1f} MB)")


# ---------------------------------------------------------------------------------------------
# Hub-layout repositories, for the loopback test hub of `precis models pull` (tests/hub_pull.rs)
# ---------------------------------------------------------------------------------------------

HUB_VERSION = 1
HUB_REPOS = {
    # repository directory: (source model, files copied, weights as)
    "tiny-marian-en-es": ("tiny-marian-en-es", MODEL_FILES["marian"], "safetensors"),
    "tiny-marian-en-es-bin": ("tiny-marian-en-es", MODEL_FILES["marian"], "bin"),
    "tiny-bart": ("tiny-bart", MODEL_FILES["bart"], "safetensors"),
}


def make_hub_repos(out: Path) -> None:
    """Writes DIR/hub/<repo>/: the files a Hugging Face repository of that model holds.

    The `-bin` repository has only `pytorch_model.bin` (torch.save of the state dict, tied
    aliases included as save_pretrained wrote them before safetensors) and, as transformers'
    MarianMTModel does on save, no sinusoidal `embed_positions` tables: precis must convert it
    and recompute them. The test hub serves these directories in the hub's URL layout.
    """
    from safetensors.torch import load_file

    hub = out / "hub"
    stamp = hub / ".complete"
    wanted = f"hub-v{HUB_VERSION} factory-v{FACTORY_VERSION}\n"
    if stamp.is_file() and stamp.read_text() == wanted:
        print("hub: complete, skipped")
        return
    tmp = Path(tempfile.mkdtemp(prefix=".hub.tmp-", dir=out))
    tmp.chmod(0o755)
    try:
        for repo, (source, files, weights) in HUB_REPOS.items():
            dest = tmp / repo
            dest.mkdir()
            for name in files + [MARKER]:
                if name != "model.safetensors":
                    shutil.copyfile(out / source / name, dest / name)
            if weights == "safetensors":
                shutil.copyfile(out / source / "model.safetensors", dest / "model.safetensors")
            else:
                state = load_file(str(out / source / "model.safetensors"))
                for alias in ("model.encoder.embed_tokens.weight",
                              "model.decoder.embed_tokens.weight", "lm_head.weight"):
                    state[alias] = state["model.shared.weight"]
                for positions in ("model.encoder.embed_positions.weight",
                                  "model.decoder.embed_positions.weight"):
                    state.pop(positions, None)
                torch.save(state, dest / "pytorch_model.bin")
        (tmp / ".complete").write_text(wanted)
        if hub.exists():
            old = Path(tempfile.mkdtemp(prefix=".hub.old-", dir=out))
            os.rename(hub, old / "hub")
            shutil.rmtree(old)
        os.rename(tmp, hub)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"hub: wrote {', '.join(HUB_REPOS)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="directory that receives the models")
    ap.add_argument("--real-dims", action="store_true",
                    help="also make random models with the real sizes of distilbart-cnn-6-6 "
                         "and opus-mt-en-es for benchmarks (about 1.2 GB on disk, twice that "
                         "once converted to rust_model.ot)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = corpus(args.seed)
    seed = args.seed
    jobs = [("tiny-bart", "bart", lambda d: build_bart(d, lines, real=False)),
            ("tiny-marian-en-es", "marian", lambda d: build_marian(d, lines, False, seed))]
    if args.real_dims:
        jobs += [("bench-distilbart-cnn-6-6-random", "bart",
                  lambda d: build_bart(d, lines, real=True)),
                 ("bench-opus-mt-en-es-random", "marian",
                  lambda d: build_marian(d, lines, True, seed))]
    for name, kind, build in jobs:
        make(args.out, name, kind, build, seed)
    make_hub_repos(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
