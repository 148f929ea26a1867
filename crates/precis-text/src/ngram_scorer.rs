//! lingua's high-accuracy n-gram scoring, computed for every language in one pass.
//!
//! lingua scores a text per language: for each distinct n-gram of the text (orders 1–5, or
//! trigrams alone once the text has [`TRIGRAMS_ONLY_FROM_LETTERS`] letters), it adds the log
//! probability of the longest prefix of that n-gram the language's model knows; with orders 1–5
//! the sum is then divided by how many of the text's distinct letters the model knows. It looks
//! every n-gram up once per language in a finite-state map: about 60 µs per language for a
//! sentence, several milliseconds for all 75.
//!
//! lingua's models are prefix-closed (a model that knows an n-gram knows its prefixes), so the
//! log probability of the longest known prefix telescopes into a sum of increments, one per
//! known prefix: `p(g[..k]) - p(g[..k-1])`. This module stores the increments of all languages
//! in one hash table per order, keyed by the n-gram: one lookup per distinct prefix in the text
//! scores every language at once, and a prefix no language knows ends its chain. The sums are
//! lingua's own, to within 1/[`SCALE`] nat per n-gram (log probabilities are held as integers).
//!
//! The tables are built from the model bytes once per detector (about 170 MB, ~1.5 s on one
//! core). Scoring a text prefetches every prefix's slot, then finds the slots and prefetches
//! what they point to, then adds up; the languages of one alphabet are neighbouring lanes of a
//! dense row, so a text adds only its alphabet's lanes.

use fst::Streamer;
use lingua::Language;
use regex::RegexSet;

use crate::lingua_models::ngram_model_bytes;

/// lingua reads n-grams of at most this many characters.
const MAX_ORDER: usize = 5;

/// From this many letters on, lingua scores trigrams only (below, orders 1 to 5).
pub(crate) const TRIGRAMS_ONLY_FROM_LETTERS: usize = 120;

/// Log probabilities are held as integers in units of 1/SCALE nat (lingua's model values lie
/// in [-19, 0], increments in [-19, 19]: well inside `i16` at this scale).
const SCALE: f64 = 1500.0;

/// Largest load of an order's hash table: linear probing stays within a cache line or two.
const MAX_LOAD: f64 = 0.8;

/// An alphabet must carry this share of a language's letter probability to count as one of
/// the language's alphabets (rare foreign letters in its training text do not).
const MIN_ALPHABET_SHARE: f64 = 0.05;

/// lingua's word pattern, alternative by alternative, in its order: a run of one of these
/// scripts, or (`false`) a single character of it.
const WORD_ALTERNATIVES: [(&str, bool); 11] = [
    ("Bengali", true),
    ("Devanagari", true),
    ("Gujarati", true),
    ("Gurmukhi", true),
    ("Han", false),
    ("Hangul", true),
    ("Hiragana", false),
    ("Katakana", false),
    ("Tamil", true),
    ("Telugu", true),
    ("Thai", true),
];

/// Bit of [`WORD_ALTERNATIVES`]' last alternative: a run of letters of any script (`\p{L}+`).
const LETTER_ALTERNATIVE: usize = WORD_ALTERNATIVES.len();

/// The alphabets lingua tells languages apart by, with whatlang's name of the script (shown
/// in detections).
pub(crate) const ALPHABETS: [(&str, &str); 18] = [
    ("Arabic", "Arabic"),
    ("Armenian", "Armenian"),
    ("Bengali", "Bengali"),
    ("Cyrillic", "Cyrillic"),
    ("Devanagari", "Devanagari"),
    ("Georgian", "Georgian"),
    ("Greek", "Greek"),
    ("Gujarati", "Gujarati"),
    ("Gurmukhi", "Gurmukhi"),
    ("Han", "Mandarin"),
    ("Hangul", "Hangul"),
    ("Hebrew", "Hebrew"),
    ("Hiragana", "Hiragana"),
    ("Katakana", "Katakana"),
    ("Latin", "Latin"),
    ("Tamil", "Tamil"),
    ("Telugu", "Telugu"),
    ("Thai", "Thai"),
];

/// Index of an alphabet in [`ALPHABETS`].
pub(crate) type Alphabet = usize;

/// Indices in [`ALPHABETS`] of the alphabets lingua's rules name (checked by a test).
pub(crate) const HAN: Alphabet = 9;
const HIRAGANA: Alphabet = 12;
const KATAKANA: Alphabet = 13;

/// Per character: which word alternatives it matches (bits 0–11) and its alphabet + 1
/// (bits 16–23, 0 for none).
struct CharTable {
    basic_plane: Vec<u32>,
    patterns: RegexSet,
}

const ALPHABET_SHIFT: u32 = 16;

impl CharTable {
    fn build() -> Self {
        let patterns: Vec<String> = WORD_ALTERNATIVES
            .iter()
            .map(|(script, _)| format!(r"^\p{{{script}}}$"))
            .chain(std::iter::once(r"^\p{L}$".to_string()))
            .chain(
                ALPHABETS
                    .iter()
                    .map(|(alphabet, _)| format!(r"^\p{{{alphabet}}}$")),
            )
            .collect();
        // The patterns are fixed Unicode classes the regex crate knows.
        let patterns = RegexSet::new(patterns).expect("fixed Unicode class patterns");
        let mut table = CharTable {
            basic_plane: vec![0; 0x1_0000],
            patterns,
        };
        for code in 0..0x1_0000u32 {
            if let Some(c) = char::from_u32(code) {
                table.basic_plane[code as usize] = table.classify(c);
            }
        }
        table
    }

    fn classify(&self, c: char) -> u32 {
        let mut buffer = [0u8; 4];
        let matches = self.patterns.matches(c.encode_utf8(&mut buffer));
        let mut bits = 0u32;
        let mut alphabet = 0u32;
        for index in matches.iter() {
            if index <= LETTER_ALTERNATIVE {
                bits |= 1 << index;
            } else if alphabet == 0 {
                alphabet = (index - LETTER_ALTERNATIVE) as u32;
            }
        }
        bits | (alphabet << ALPHABET_SHIFT)
    }

    #[inline]
    fn get(&self, c: char) -> u32 {
        match self.basic_plane.get(c as usize) {
            Some(&bits) => bits,
            None => self.classify(c),
        }
    }
}

/// The words of a text as lingua reads them: lower-cased, split by its word pattern.
struct Words {
    chars: Vec<char>,
    /// Each word's range in `chars`.
    bounds: Vec<(usize, usize)>,
    /// Characters per alphabet, over words written in one alphabet only.
    alphabet_chars: [usize; ALPHABETS.len()],
}

impl Words {
    fn read(text: &str, table: &CharTable) -> Self {
        // Buffers of a previous text, kept for their capacity.
        let WordBuffers {
            mut lower,
            mut chars,
            mut bounds,
        } = WORD_BUFFERS.with(|buffers| std::mem::take(&mut *buffers.borrow_mut()));
        lower.clear();
        chars.clear();
        bounds.clear();
        let mut words = Words {
            chars,
            bounds,
            alphabet_chars: [0; ALPHABETS.len()],
        };
        // Lower-cased character by character (ASCII, most of most texts, on its own): the same
        // as lingua's `str::to_lowercase` except for a word-final Greek sigma, and Greek is
        // never scored (one language writes it).
        for c in text.chars() {
            if c.is_ascii() {
                lower.push(c.to_ascii_lowercase());
            } else {
                lower.extend(c.to_lowercase());
            }
        }
        let mut next = 0;
        while next < lower.len() {
            let c = lower[next];
            next += 1;
            let class = table.get(c);
            let alternatives = class & ((1 << (LETTER_ALTERNATIVE + 1)) - 1);
            if alternatives == 0 {
                continue;
            }
            // The regex takes the first alternative that matches, and a run as far as it goes.
            let first = alternatives.trailing_zeros() as usize;
            let runs = first == LETTER_ALTERNATIVE || WORD_ALTERNATIVES[first].1;
            let start = words.chars.len();
            let mut alphabet = class >> ALPHABET_SHIFT;
            words.chars.push(c);
            if runs {
                while let Some(&following) = lower.get(next) {
                    let following_class = table.get(following);
                    if following_class & (1 << first) == 0 {
                        break;
                    }
                    if following_class >> ALPHABET_SHIFT != alphabet {
                        alphabet = 0;
                    }
                    words.chars.push(following);
                    next += 1;
                }
            }
            let end = words.chars.len();
            if alphabet != 0 {
                words.alphabet_chars[alphabet as usize - 1] += end - start;
            }
            words.bounds.push((start, end));
        }
        WORD_BUFFERS.with(|buffers| buffers.borrow_mut().lower = lower);
        words
    }

    /// Hands the buffers back for the next text.
    fn recycle(self) {
        WORD_BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            buffers.chars = self.chars;
            buffers.bounds = self.bounds;
        });
    }

    fn letters(&self) -> usize {
        self.chars.len()
    }

    /// The alphabet most of the text is written in, as lingua decides it: `None` when no word
    /// is in one alphabet, or when several alphabets are equally frequent.
    fn dominant_alphabet(&self) -> Option<Alphabet> {
        let counts: Vec<(Alphabet, usize)> = self
            .alphabet_chars
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, count)| *count > 0)
            .collect();
        let (best, best_count) = counts.iter().copied().max_by_key(|(_, count)| *count)?;
        if counts.len() > 1 && counts.iter().all(|(_, count)| *count == best_count) {
            return None;
        }
        Some(best)
    }
}

thread_local! {
    /// Per thread, reused across texts: the lower-cased text, the words' letters and bounds.
    static WORD_BUFFERS: std::cell::RefCell<WordBuffers> = std::cell::RefCell::default();
}

#[derive(Default)]
struct WordBuffers {
    lower: Vec<char>,
    chars: Vec<char>,
    bounds: Vec<(usize, usize)>,
}

/// Step of the n-gram hash: a bijection of the running hash for each character, so prefixes
/// chain (the hash of `abc` extends the hash of `ab`).
#[inline]
fn extend(hash: u64, c: char) -> u64 {
    (hash ^ u64::from(c))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(29)
}

const HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// Final mix (MurmurHash3's) of a chained hash: table index from the low bits, fingerprint
/// from the high ones.
#[inline]
fn finish(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    hash ^ (hash >> 33)
}

/// The increments of every language for the n-grams of one order.
struct OrderTable {
    /// Open addressing, linear probing: key fingerprint (high 32 bits) | payload << 7 | entry
    /// count, where the payload is the only entry (count 1) or the first entry's index in
    /// `entries`; 0 is an empty slot.
    slots: Vec<u64>,
    /// A key's home slot is its top bits: `key >> index_shift`.
    index_shift: u32,
    mask: usize,
    /// Entries of the n-grams several languages know, grouped by n-gram: the language's index
    /// << 16 | its increment (1/SCALE nat, two's complement), in one word so that an n-gram's
    /// entries share a cache line.
    entries: Vec<u32>,
    /// Rows of [`LANES`] increments of the n-grams many languages know.
    dense: Vec<i16>,
}

const COUNT_BITS: u32 = 7;

impl OrderTable {
    /// A table from packed entries (key, language, increment), sorted: entries of a key are
    /// adjacent, and keys come in the order of their home slots, so slots and entries are
    /// written front to back.
    fn from_sorted(packed: &[u64]) -> Self {
        // Keys, and entries of keys that more than one language knows (a key of one language
        // keeps its entry in its slot).
        let (mut unique, mut shared_entries, mut dense_rows) = (0usize, 0usize, 0usize);
        let mut start = 0usize;
        while start < packed.len() {
            let end = group_end(packed, start);
            unique += 1;
            match end - start {
                1 => {}
                count if count >= DENSE_MIN_LANGUAGES => dense_rows += 1,
                count => shared_entries += count,
            }
            start = end;
        }
        let capacity = ((unique as f64 / MAX_LOAD).ceil() as usize)
            .max(16)
            .next_power_of_two();
        let mut table = OrderTable {
            slots: vec![0; capacity],
            index_shift: KEY_BITS - capacity.trailing_zeros(),
            mask: capacity - 1,
            entries: vec![0; shared_entries],
            dense: vec![0; dense_rows * LANES],
        };
        advise_huge_pages(&table.slots);
        advise_huge_pages(&table.entries);
        advise_huge_pages(&table.dense);
        let mut next_row = 0usize;
        let mut start = 0usize;
        let mut next_entry = 0usize;
        while start < packed.len() {
            let key = packed[start] >> PAYLOAD_BITS;
            let end = group_end(packed, start);
            let mut count = end - start;
            let payload = if count == 1 {
                packed[start] & ENTRY_MASK
            } else if count >= DENSE_MIN_LANGUAGES {
                let row = &mut table.dense[next_row * LANES..(next_row + 1) * LANES];
                for packed in &packed[start..end] {
                    row[(*packed >> 16) as usize & 0x7F] = *packed as u16 as i16;
                }
                count = DENSE_MARK;
                next_row += 1;
                (next_row - 1) as u64
            } else {
                for (entry, packed) in table.entries[next_entry..next_entry + count]
                    .iter_mut()
                    .zip(&packed[start..])
                {
                    *entry = (*packed & ENTRY_MASK) as u32;
                }
                next_entry += count;
                (next_entry - count) as u64
            };
            let mut index = table.home(key);
            while table.slots[index] != 0 {
                index = (index + 1) & table.mask;
            }
            // A slot's low word is never 0: every key has at least one entry.
            table.slots[index] =
                ((key as u32 as u64) << 32) | (payload << COUNT_BITS) | count as u64;
            start = end;
        }
        table
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key >> self.index_shift) as usize & self.mask
    }

    /// The slot of the n-gram with this key, if any language knows it.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let wanted = key as u32 as u64;
        let mut index = self.home(key);
        loop {
            let slot = self.slots[index];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == wanted {
                return Some(index);
            }
            index = (index + 1) & self.mask;
        }
    }

    /// The payload of `slot`: its one entry, or where its entries or dense row start.
    #[inline]
    fn payload(&self, slot: usize) -> usize {
        self.slots[slot] as u32 as usize >> COUNT_BITS
    }

    /// The entries of the n-gram in `slot`.
    #[inline]
    fn entries_of(&self, slot: usize) -> Entries<'_> {
        let low = self.slots[slot] as u32;
        let count = (low & ((1 << COUNT_BITS) - 1)) as usize;
        let payload = low as usize >> COUNT_BITS;
        match count {
            1 => Entries::One(payload as u32),
            DENSE_MARK => Entries::Dense(&self.dense[payload * LANES..(payload + 1) * LANES]),
            _ => Entries::Many(&self.entries[payload..payload + count]),
        }
    }
}

/// The language (lane) of an entry.
#[inline]
fn entry_language(entry: u32) -> usize {
    ((entry >> 16) as usize & 0x7F) % LANES
}

/// What a text's prefixes found in the tables, gathered before adding up: every entry with
/// its prefix's weight, and every dense row (order, row index) with it.
#[derive(Default)]
struct Gathered {
    /// Order, dense row and weight of each prefix many languages know.
    rows: Vec<(u8, usize, i16)>,
    /// Order, slot and weight of each prefix a few languages know.
    lists: Vec<(u8, usize, i16)>,
}

/// Starts fetching the cache line of `value` without waiting for it.
#[inline]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program sees and cannot fault; the
    // address is that of a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            value as *const T as *const i8,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

thread_local! {
    /// Per thread, reused across texts.
    static GATHERED: std::cell::RefCell<Gathered> = std::cell::RefCell::new(Gathered::default());
}

/// Languages' lanes in a dense row (75 languages, padded for vector adds).
const LANES: usize = 80;

/// Lanes added as one vector.
const LANE_GROUP: usize = 8;

/// An n-gram known to at least this many languages keeps a dense row of increments (one lane
/// per language, 0 where unknown): adding a row is a few vector instructions where a list
/// of that length is as many scattered adds.
const DENSE_MIN_LANGUAGES: usize = 12;

/// Entry count of a slot whose payload is a dense row.
const DENSE_MARK: usize = (1 << COUNT_BITS) - 1;

/// The entries (language << 16 | increment) of one n-gram.
enum Entries<'t> {
    /// Known to one language: the entry sits in the slot itself (no second cache miss).
    One(u32),
    Many(&'t [u32]),
    /// Known to many languages: an increment per language lane (0: unknown).
    Dense(&'t [i16]),
}

/// `sums[lane] += weight × row[lane]`, for lanes in whole [`LANE_GROUP`]s. The hot loop of
/// scoring (a hundred rows per sentence).
#[inline]
fn add_weighted_row(sums: &mut [i32], row: &[i16], weight: i16) {
    debug_assert!(sums.len() == row.len() && row.len().is_multiple_of(LANE_GROUP));
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_add_epi32, _mm_loadu_si128, _mm_madd_epi16, _mm_set1_epi32,
            _mm_setzero_si128, _mm_storeu_si128, _mm_unpackhi_epi16, _mm_unpacklo_epi16,
        };
        // SSE2 (every x86-64 has it) multiplies i16 pairs and adds them into i32
        // (`pmaddwd`): each increment paired with a 0, the weight with a 0, gives
        // increment × weight exactly.
        let lanes = sums.len().min(row.len()) / LANE_GROUP * LANE_GROUP;
        // SAFETY: SSE2 is part of x86-64. Each iteration reads 8 i16 (16 bytes) at
        // row[lane..lane + 8] and reads and writes 8 i32 (32 bytes) at sums[lane..lane + 8],
        // inside both slices since lane + 8 <= lanes <= their lengths; unaligned loads and
        // stores are used.
        unsafe {
            let weights = _mm_set1_epi32(i32::from(weight));
            let zero = _mm_setzero_si128();
            for lane in (0..lanes).step_by(LANE_GROUP) {
                let increments = _mm_loadu_si128(row.as_ptr().add(lane) as *const __m128i);
                let low = _mm_madd_epi16(_mm_unpacklo_epi16(increments, zero), weights);
                let high = _mm_madd_epi16(_mm_unpackhi_epi16(increments, zero), weights);
                let sums_low = sums.as_mut_ptr().add(lane) as *mut __m128i;
                let sums_high = sums.as_mut_ptr().add(lane + 4) as *mut __m128i;
                _mm_storeu_si128(sums_low, _mm_add_epi32(_mm_loadu_si128(sums_low), low));
                _mm_storeu_si128(sums_high, _mm_add_epi32(_mm_loadu_si128(sums_high), high));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (sum, &increment) in sums.iter_mut().zip(row) {
        *sum += i32::from(weight) * i32::from(increment);
    }
}

/// End of the run of packed entries with the same key as `packed[start]`.
fn group_end(packed: &[u64], start: usize) -> usize {
    let key = packed[start] >> PAYLOAD_BITS;
    let mut end = start + 1;
    while end < packed.len() && packed[end] >> PAYLOAD_BITS == key {
        end += 1;
    }
    end
}

/// The language and increment bits of a packed entry.
const ENTRY_MASK: u64 = 0x7F_FFFF;

/// Asks the kernel to back `buffer` with huge pages where it can: every lookup lands on a
/// random page of a large table, and with 4 KiB pages most would also miss the TLB. Call
/// before the buffer is first written (freshly zero-allocated pages are not yet mapped).
fn advise_huge_pages<T>(buffer: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buffer.as_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let aligned = (start + PAGE - 1) & !(PAGE - 1);
        if end > aligned {
            // SAFETY: the range lies inside memory this buffer owns; MADV_HUGEPAGE only
            // changes how the kernel backs it, never its contents. A refusal (no transparent
            // huge pages) leaves ordinary pages, so the result is ignored.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
}

/// Lets the kernel reclaim the pages of data read once (a model's bytes in the binary): the 75
/// models would otherwise stay resident, ~270 MB. Should they be read again, the pages come
/// back.
fn release_pages(bytes: &'static [u8]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = (bytes.as_ptr() as usize + PAGE - 1) & !(PAGE - 1);
        let end = (bytes.as_ptr() as usize + bytes.len()) & !(PAGE - 1);
        if end > start {
            // SAFETY: the whole pages in this range belong to `bytes`. MADV_PAGEOUT reclaims
            // pages but keeps their contents (file pages are dropped and read back from the
            // binary, anonymous ones swapped); an older kernel refuses it, which is harmless.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT);
            }
        }
    }
}

/// Bits of an n-gram's key: its home slot is the top bits, its fingerprint in the slot the
/// low 32 (together they tell keys apart as well as 41 bits can: in the largest table, of
/// 6.5 million 5-grams, a handful of pairs share a key and so share their entries).
const KEY_BITS: u32 = 41;

/// Below the key in a packed entry: the language (7 bits, at 16) and the increment (16 bits).
const PAYLOAD_BITS: u32 = 64 - KEY_BITS;

#[inline]
fn key_bits(chain_hash: u64) -> u64 {
    finish(chain_hash) >> PAYLOAD_BITS
}

/// One language's score: its index in [`NgramScorer::language`] and lingua's log score.
pub(crate) type Scored = (usize, f64);

/// A letter a language's model gives a lower probability than this is not one the language
/// writes: models carry traces of foreign letters (names, loanwords) at such rates.
const MIN_WRITTEN_LETTER_PROBABILITY: f64 = 1e-5;

/// How many of the best languages [`Ranking::ranked`] lists in order.
pub(crate) const RANKED_IN_ORDER: usize = 8;

/// What the scorer read of a text and how it ranks the languages.
pub(crate) struct Ranking {
    /// The languages of the text's alphabet that know any of its n-grams: the best
    /// [`RANKED_IN_ORDER`] first, best first, then the others in no order (none for an
    /// alphabet of one language, or Han: lingua's rules decide those).
    pub(crate) ranked: Vec<Scored>,
    /// Letters in the text's words (lingua's character count).
    pub(crate) letters: usize,
    /// Trigrams in the text's words (with repeats).
    pub(crate) trigrams: usize,
    /// Words in the text (as lingua splits them).
    pub(crate) words: usize,
    /// The alphabet most of the text is written in.
    pub(crate) alphabet: Option<Alphabet>,
    /// How many languages write that alphabet.
    pub(crate) alphabet_languages: usize,
    /// Characters of Hiragana or Katakana (a Han text with kana is Japanese to lingua).
    pub(crate) kana: usize,
    /// Per language (by index): how many of the text's distinct letters it does not write
    /// (its model gives them a probability under [`MIN_WRITTEN_LETTER_PROBABILITY`], or
    /// none); counted for text under [`TRIGRAMS_ONLY_FROM_LETTERS`] letters, else 0.
    pub(crate) unwritten_letters: [u16; LANES],
}

/// lingua's n-gram scores of all languages at once.
pub(crate) struct NgramScorer {
    languages: Vec<Language>,
    /// Per language: the alphabets it is written in (bit per [`ALPHABETS`] index).
    language_alphabets: Vec<u32>,
    /// Per alphabet: the lanes (indices) of the languages written in it, in whole
    /// [`LANE_GROUP`]s.
    alphabet_lanes: [(usize, usize); ALPHABETS.len()],
    /// Orders 1 to 5.
    tables: Vec<OrderTable>,
    chars: CharTable,
}

impl NgramScorer {
    /// Reads every lingua model into the tables.
    pub(crate) fn build() -> Self {
        let mut languages: Vec<Language> = Language::all().into_iter().collect();
        languages.sort();
        let chars = CharTable::build();

        // One pass over every model: each n-gram's key and increment, packed into one word
        // per (n-gram, language) so that sorting groups them by key; and each language's
        // alphabets.
        let mut packed: Vec<Vec<u64>> = vec![Vec::new(); MAX_ORDER];
        let mut language_alphabets = vec![0u32; languages.len()];
        for (index, language) in languages.iter().enumerate() {
            let Some(bytes) = ngram_model_bytes(*language) else {
                continue;
            };
            let Ok(model) = fst::Map::new(bytes) else {
                continue;
            };
            let mut mass = [0.0f64; ALPHABETS.len()];
            // The last n-gram seen of each order: its chained hash and quantized log
            // probability. A model streams in byte order, so an n-gram's prefix is the last
            // n-gram seen of the order below.
            let mut last: [(u64, i32); MAX_ORDER + 1] = [(0, 0); MAX_ORDER + 1];
            for_each_ngram(&model, |chain, order, log_probability, first| {
                let quantized = (log_probability * SCALE).round() as i32;
                // The longest prefix the model knows (every one, in lingua's prefix-closed
                // models).
                let mut below = 0i32;
                for prefix_order in (1..order).rev() {
                    if last[prefix_order].0 == chain[prefix_order - 1] {
                        below = last[prefix_order].1;
                        break;
                    }
                }
                last[order] = (chain[order - 1], quantized);
                let increment = (quantized - below).clamp(i16::MIN.into(), i16::MAX.into()) as i16;
                packed[order - 1].push(
                    (key_bits(chain[order - 1]) << PAYLOAD_BITS)
                        | ((index as u64) << 16)
                        | u64::from(increment as u16),
                );
                if order == 1 {
                    let alphabet = chars.get(first) >> ALPHABET_SHIFT;
                    if alphabet != 0 {
                        mass[alphabet as usize - 1] += log_probability.exp();
                    }
                }
            });
            // Read once: its pages need not stay resident (lingua reads its own copy).
            release_pages(bytes);
            let total: f64 = mass.iter().sum();
            for (alphabet, share) in mass.iter().enumerate() {
                if total > 0.0 && share / total >= MIN_ALPHABET_SHARE {
                    language_alphabets[index] |= 1 << alphabet;
                }
            }
        }
        // Lanes in alphabet order: the languages of one alphabet are neighbours, so scoring a
        // text adds only its alphabet's stretch of each dense row.
        let mut lane_order: Vec<usize> = (0..languages.len()).collect();
        lane_order.sort_by_key(|index| (language_alphabets[*index].trailing_zeros(), *index));
        let mut lane_of = vec![0u64; languages.len()];
        for (lane, index) in lane_order.iter().enumerate() {
            lane_of[*index] = lane as u64;
        }
        let languages: Vec<Language> = lane_order.iter().map(|index| languages[*index]).collect();
        let language_alphabets: Vec<u32> = lane_order
            .iter()
            .map(|index| language_alphabets[*index])
            .collect();
        let alphabet_lanes = std::array::from_fn(|alphabet| {
            let lanes = (0..languages.len())
                .filter(|lane| language_alphabets[*lane] & (1 << alphabet) != 0);
            let start = lanes.clone().min().unwrap_or(0);
            let end = lanes.max().map_or(0, |last| last + 1);
            // Whole vectors of lanes.
            (
                start / LANE_GROUP * LANE_GROUP,
                end.div_ceil(LANE_GROUP) * LANE_GROUP,
            )
        });
        let tables: Vec<OrderTable> = packed
            .into_iter()
            .map(|mut order_packed| {
                for packed in order_packed.iter_mut() {
                    let language = (*packed >> 16) as usize & 0x7F;
                    *packed = (*packed & !(0x7F << 16)) | (lane_of[language] << 16);
                }
                order_packed.sort_unstable();
                OrderTable::from_sorted(&order_packed)
            })
            .collect();
        NgramScorer {
            languages,
            language_alphabets,
            alphabet_lanes,
            tables,
            chars,
        }
    }

    pub(crate) fn language(&self, index: usize) -> Language {
        self.languages[index]
    }

    pub(crate) fn language_count(&self) -> usize {
        self.languages.len()
    }

    /// Whether `language` (by index) is written in `alphabet`.
    pub(crate) fn writes(&self, index: usize, alphabet: Alphabet) -> bool {
        self.language_alphabets[index] & (1 << alphabet) != 0
    }

    /// lingua's n-gram scores of `text` for every language written in its alphabet. Linear
    /// in the text.
    pub(crate) fn rank(&self, text: &str) -> Ranking {
        let words = Words::read(text, &self.chars);
        let letters = words.letters();
        let trigrams = words
            .bounds
            .iter()
            .map(|(start, end)| (end - start).saturating_sub(2))
            .sum();
        let alphabet = words.dominant_alphabet();
        let kana = words.alphabet_chars[HIRAGANA] + words.alphabet_chars[KATAKANA];
        let alphabet_languages = match alphabet {
            Some(alphabet) => (0..self.languages.len())
                .filter(|index| self.writes(*index, alphabet))
                .count(),
            None => self.languages.len(),
        };
        let mut ranking = Ranking {
            ranked: Vec::new(),
            letters,
            trigrams,
            words: words.bounds.len(),
            alphabet,
            alphabet_languages,
            kana,
            unwritten_letters: [0; LANES],
        };
        // lingua's rules decide text in an alphabet of one language, and Han text (by its
        // kana): no scores needed (nor for an alphabet no language writes: no lanes to add).
        if letters == 0
            || alphabet.is_some_and(|alphabet| alphabet_languages <= 1 || alphabet == HAN)
        {
            words.recycle();
            return ranking;
        }
        let orders = if letters >= TRIGRAMS_ONLY_FROM_LETTERS {
            3..=3
        } else {
            1..=MAX_ORDER
        };
        let mut prefixes = PrefixWeights::collect(&words, orders.clone());
        words.recycle();

        // The lookups miss the cache (the tables are ~170 MB): first prefetch every prefix's
        // home slot; then find the slots and prefetch what they point to; only then add up,
        // rows and lists each in a loop of their own.
        // Only the lanes of the text's alphabet's languages count.
        let lanes = match alphabet {
            Some(alphabet) => self.alphabet_lanes[alphabet].0..self.alphabet_lanes[alphabet].1,
            None => 0..LANES,
        };
        for prefix in &prefixes.entries {
            let table = &self.tables[usize::from(prefix.order) - 1];
            prefetch(&table.slots[table.home(prefix.key)]);
        }
        let mut known_letters = [0u32; LANES];
        // A letter's increment is its log probability (it has no prefix).
        let written_threshold = (MIN_WRITTEN_LETTER_PROBABILITY.ln() * SCALE) as i16;
        let mut written_letters = [0u32; LANES];
        let mut sums = [0i32; LANES];
        let count_letters = *orders.start() == 1;
        GATHERED.with(|gathered| {
            let mut gathered = gathered.borrow_mut();
            let Gathered { rows, lists } = &mut *gathered;
            rows.clear();
            lists.clear();
            for index in 0..prefixes.entries.len() {
                let prefix = &prefixes.entries[index];
                // Parents come first: a prefix that no language knows rules out its
                // extensions.
                if prefix.parent != NO_PARENT
                    && prefixes.entries[prefix.parent as usize].slot == NO_SLOT
                {
                    continue;
                }
                let order = usize::from(prefix.order);
                let table = &self.tables[order - 1];
                let Some(slot) = table.find(prefix.key) else {
                    continue;
                };
                // At most 5 × MAX_SAMPLE_BYTES distinct n-grams: within i16.
                let weight = prefix.weight.min(i16::MAX as u32) as i16;
                // lingua divides by how many of the text's letters a language knows (the
                // letters' table is small and stays in the cache).
                let counts_letters = count_letters && order == 1;
                // What the slot points to is fetched while the next prefixes are looked up,
                // and added up afterwards, rows and lists each in a loop of their own.
                match table.entries_of(slot) {
                    Entries::One(entry) => {
                        if counts_letters {
                            known_letters[entry_language(entry)] += 1;
                            written_letters[entry_language(entry)] +=
                                u32::from(entry as u16 as i16 >= written_threshold);
                        }
                        lists.push((order as u8, slot, weight));
                    }
                    Entries::Many(entries) => {
                        prefetch(&entries[0]);
                        if counts_letters {
                            for entry in entries {
                                known_letters[entry_language(*entry)] += 1;
                                written_letters[entry_language(*entry)] +=
                                    u32::from(*entry as u16 as i16 >= written_threshold);
                            }
                        }
                        lists.push((order as u8, slot, weight));
                    }
                    Entries::Dense(row) => {
                        let row = &row[lanes.clone()];
                        // Every cache line of the alphabet's lanes (32 lanes per line).
                        for lane in (0..row.len()).step_by(32) {
                            prefetch(&row[lane]);
                        }
                        prefetch(&row[row.len() - 1]);
                        if counts_letters {
                            for (known, &increment) in
                                known_letters[lanes.clone()].iter_mut().zip(row)
                            {
                                *known += u32::from(increment != 0);
                            }
                            for (written, &increment) in
                                written_letters[lanes.clone()].iter_mut().zip(row)
                            {
                                *written +=
                                    u32::from(increment != 0 && increment >= written_threshold);
                            }
                        }
                        rows.push((order as u8, table.payload(slot), weight));
                    }
                }
                prefixes.entries[index].slot = slot as u32;
            }
            for &(order, row, weight) in rows.iter() {
                let dense = &self.tables[usize::from(order) - 1].dense;
                let row = &dense[row * LANES..(row + 1) * LANES];
                add_weighted_row(&mut sums[lanes.clone()], &row[lanes.clone()], weight);
            }
            for &(order, slot, weight) in lists.iter() {
                let mut add = |entry: u32| {
                    sums[entry_language(entry)] +=
                        i32::from(weight) * i32::from(entry as u16 as i16);
                };
                match self.tables[usize::from(order) - 1].entries_of(slot) {
                    Entries::One(entry) => add(entry),
                    Entries::Many(entries) => entries.iter().copied().for_each(add),
                    // Rows were added above.
                    Entries::Dense(_) => {}
                }
            }
        });
        if count_letters {
            let distinct_letters = prefixes
                .entries
                .iter()
                .filter(|prefix| prefix.order == 1)
                .count();
            for (unwritten, written) in ranking.unwritten_letters.iter_mut().zip(written_letters) {
                *unwritten = distinct_letters
                    .saturating_sub(written as usize)
                    .min(u16::MAX.into()) as u16;
            }
        }
        prefixes.recycle();

        let scored_lanes = lanes.start..lanes.end.min(self.languages.len());
        ranking.ranked.reserve_exact(scored_lanes.len());
        for (index, sum) in sums
            .iter()
            .enumerate()
            .take(scored_lanes.end)
            .skip(scored_lanes.start)
        {
            if *sum == 0 || alphabet.is_some_and(|alphabet| !self.writes(index, alphabet)) {
                continue;
            }
            let mut score = f64::from(*sum) / SCALE;
            if known_letters[index] > 0 {
                score /= f64::from(known_letters[index]);
            }
            ranking.ranked.push((index, score));
        }
        // The cascade reads the best few in order and the rest as a whole: order only those.
        let by_score = |a: &Scored, b: &Scored| b.1.total_cmp(&a.1);
        if ranking.ranked.len() > RANKED_IN_ORDER {
            ranking
                .ranked
                .select_nth_unstable_by(RANKED_IN_ORDER - 1, by_score);
            ranking.ranked[..RANKED_IN_ORDER].sort_unstable_by(by_score);
        } else {
            ranking.ranked.sort_unstable_by(by_score);
        }
        ranking
    }
}

/// Calls `visit(chain, order, log_probability, first_char)` for each n-gram of a model, in
/// byte order; `chain[k]` is the chained hash of the n-gram's first k + 1 characters.
fn for_each_ngram(
    model: &fst::Map<&'static [u8]>,
    mut visit: impl FnMut(&[u64; MAX_ORDER], usize, f64, char),
) {
    let mut stream = model.stream();
    while let Some((key, value)) = stream.next() {
        let Ok(ngram) = std::str::from_utf8(key) else {
            continue;
        };
        let log_probability = f64::from_bits(value);
        if !log_probability.is_finite() {
            continue;
        }
        let mut chain = [0u64; MAX_ORDER];
        let mut hash = HASH_SEED;
        let mut order = 0;
        let first = ngram.chars().next().unwrap_or('\0');
        for c in ngram.chars() {
            if order == MAX_ORDER {
                order += 1;
                break;
            }
            hash = extend(hash, c);
            chain[order] = hash;
            order += 1;
        }
        if (1..=MAX_ORDER).contains(&order) {
            visit(&chain, order, log_probability, first);
        }
    }
}

const NO_PARENT: u32 = u32::MAX;
const NO_SLOT: u32 = u32::MAX;

/// A distinct prefix of the text's distinct n-grams, with how many of them it is a prefix of.
struct PrefixEntry {
    /// The prefix's key in its order's table.
    key: u64,
    weight: u32,
    /// The entry of this prefix minus its last character (always earlier in the list).
    parent: u32,
    /// Its slot in the table, once found (tables have fewer than 2^32 slots).
    slot: u32,
    /// Its length in characters.
    order: u8,
}

/// How often each distinct prefix counts in lingua's sums: once for every distinct n-gram (of
/// each order scored) that it begins.
struct PrefixWeights {
    entries: Vec<PrefixEntry>,
}

impl PrefixWeights {
    fn collect(words: &Words, orders: std::ops::RangeInclusive<usize>) -> Self {
        let (lowest, top) = (*orders.start(), *orders.end());
        let positions: usize = words.bounds.iter().map(|(start, end)| end - start).sum();
        let capacity = (positions * top * 2).max(16).next_power_of_two();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                prefix_index,
                spare_entries,
            } = &mut *scratch;
            // The list of a previous text, kept for its capacity.
            let mut weights = PrefixWeights {
                entries: std::mem::take(spare_entries),
            };
            weights.entries.clear();
            weights.entries.reserve(positions * top);
            prefix_index.reset(capacity);
            for &(start, end) in &words.bounds {
                let word = &words.chars[start..end];
                for position in 0..word.len() {
                    let longest = top.min(word.len() - position);
                    let mut hash = HASH_SEED;
                    let mut parent = NO_PARENT;
                    for (k, &c) in word[position..position + longest].iter().enumerate() {
                        let order = k + 1;
                        hash = extend(hash, c);
                        let next = weights.entries.len() as u32;
                        // The chained hash tells n-grams apart here; the table key (a further
                        // mix) is needed only for each distinct one.
                        let index = match prefix_index.insert(tagged(hash, order), next) {
                            Some(existing) => existing,
                            None => {
                                let key = key_bits(hash);
                                // A distinct n-gram of an order scored counts once for
                                // itself (and, below, once for each of its prefixes).
                                weights.entries.push(PrefixEntry {
                                    key,
                                    weight: u32::from(order >= lowest),
                                    parent,
                                    slot: NO_SLOT,
                                    order: order as u8,
                                });
                                next
                            }
                        };
                        parent = index;
                    }
                }
            }
            // Children come after their parent: in reverse, each entry's count is complete
            // when it is handed to its parent.
            for index in (0..weights.entries.len()).rev() {
                let parent = weights.entries[index].parent;
                if parent != NO_PARENT {
                    weights.entries[parent as usize].weight += weights.entries[index].weight;
                }
            }
            weights
        })
    }

    /// Hands the list back for the next text (its allocation is reused).
    fn recycle(self) {
        SCRATCH.with(|scratch| scratch.borrow_mut().spare_entries = self.entries);
    }
}

/// Per thread, reused across texts (a sentence's lists would otherwise be allocated and freed
/// each time).
#[derive(Default)]
struct Scratch {
    /// The index of the text's distinct prefixes.
    prefix_index: ScratchMap,
    spare_entries: Vec<PrefixEntry>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A chained hash made distinct per order, never 0.
#[inline]
fn tagged(hash: u64, order: usize) -> u64 {
    (hash.wrapping_add(order as u64).rotate_left(7)) | 1
}

/// A small open-addressing map from u64 keys to indices, reused from text to text: a slot
/// belongs to the current text only if it carries the current generation, so emptying the map
/// is one increment.
#[derive(Default)]
struct ScratchMap {
    /// Key, value, generation: one cache line holds four slots.
    slots: Vec<(u64, u32, u32)>,
    generation: u32,
    mask: usize,
}

impl ScratchMap {
    /// Empties the map and makes room for `capacity` slots (a power of two).
    fn reset(&mut self, capacity: usize) {
        self.generation = self.generation.wrapping_add(1);
        if self.slots.len() < capacity || self.generation == 0 {
            self.slots = vec![(0, 0, 0); capacity.max(self.slots.len())];
            self.generation = 1;
        }
        self.mask = capacity - 1;
    }

    /// Inserts `key → value` unless present; returns the value already there.
    #[inline]
    fn insert(&mut self, key: u64, value: u32) -> Option<u32> {
        let mut index = (key ^ (key >> 29)) as usize & self.mask;
        loop {
            let slot = &mut self.slots[index];
            if slot.2 != self.generation {
                *slot = (key, value, self.generation);
                return None;
            }
            if slot.0 == key {
                return Some(slot.1);
            }
            index = (index + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn alphabet_named(name: &str) -> Alphabet {
        ALPHABETS
            .iter()
            .position(|(alphabet, _)| *alphabet == name)
            .unwrap()
    }

    #[test]
    fn named_alphabet_indices_match_the_table() {
        assert_eq!(alphabet_named("Han"), HAN);
        assert_eq!(alphabet_named("Hiragana"), HIRAGANA);
        assert_eq!(alphabet_named("Katakana"), KATAKANA);
    }

    fn scorer() -> &'static NgramScorer {
        static SCORER: OnceLock<NgramScorer> = OnceLock::new();
        SCORER.get_or_init(NgramScorer::build)
    }

    fn words_of(text: &str) -> Vec<String> {
        let words = Words::read(text, &scorer().chars);
        words
            .bounds
            .iter()
            .map(|(start, end)| words.chars[*start..*end].iter().collect())
            .collect()
    }

    #[test]
    fn words_are_read_as_lingua_reads_them() {
        assert_eq!(
            words_of("  Hello, WORLD! 東京 café l'été 42 "),
            ["hello", "world", "東", "京", "café", "l", "été"]
        );
        // Devanagari vowel signs are not letters (\p{L}) but belong to the script's run.
        assert_eq!(words_of("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert!(words_of("12 — !? 😀").is_empty());
    }

    #[test]
    fn prefixes_count_once_per_distinct_ngram_they_begin() {
        let words = Words::read("aaaa aaaa", &scorer().chars);
        let weights = PrefixWeights::collect(&words, 1..=MAX_ORDER);
        let by_order: Vec<(u8, u32)> = weights
            .entries
            .iter()
            .map(|entry| (entry.order, entry.weight))
            .collect();
        // Distinct n-grams: a, aa, aaa, aaaa; "a" begins all four, "aaaa" only itself.
        assert_eq!(by_order, [(1, 4), (2, 3), (3, 2), (4, 1)]);

        let trigrams_only = PrefixWeights::collect(&words, 3..=3);
        let by_order: Vec<(u8, u32)> = trigrams_only
            .entries
            .iter()
            .map(|entry| (entry.order, entry.weight))
            .collect();
        assert_eq!(by_order, [(1, 1), (2, 1), (3, 1)]);
    }

    #[test]
    fn every_language_has_tables_and_an_alphabet() {
        assert_eq!(scorer().language_count(), 75);
        for index in 0..scorer().language_count() {
            assert_ne!(
                scorer().language_alphabets[index],
                0,
                "{:?}",
                scorer().language(index)
            );
        }
        let latin = alphabet_named("Latin");
        let english = scorer()
            .languages
            .iter()
            .position(|language| *language == Language::English)
            .unwrap();
        assert!(scorer().writes(english, latin));
        assert!(!scorer().writes(english, alphabet_named("Cyrillic")));
        let five_grams = scorer().tables[4]
            .slots
            .iter()
            .filter(|slot| **slot != 0)
            .count();
        assert!(five_grams > 1_000_000, "{five_grams}");
    }

    /// lingua's own probabilities of a text, over every language.
    fn lingua_probabilities(text: &str) -> Vec<(Language, f64)> {
        static LINGUA: OnceLock<lingua::LanguageDetector> = OnceLock::new();
        LINGUA
            .get_or_init(|| lingua::LanguageDetectorBuilder::from_all_languages().build())
            .compute_language_confidence_values(text)
    }

    #[test]
    fn scores_are_lingua_scores() {
        // Texts on which lingua's character rules do not narrow the languages (no letters
        // special to a few languages), so its answer is its n-gram scores alone: under 120
        // letters (orders 1 to 5) and over (trigrams only).
        let texts = [
            "The weather was fine and the children played in the garden",
            "The committee will publish its report on the state of the harbour next month, \
             after hearing from the fishermen, the port authority and the town council, \
             which has asked for more time",
            "Погода была хорошей, и дети играли в саду",
            "Het weer was mooi en de kinderen speelden in de tuin",
        ];
        for text in texts {
            assert_top_three_are_linguas(text);
        }
    }

    /// The scores' three best languages and their probabilities are lingua's.
    fn assert_top_three_are_linguas(text: &str) {
        let ranking = scorer().rank(text);
        let best = ranking.ranked[0].1;
        let total: f64 = ranking
            .ranked
            .iter()
            .map(|(_, score)| (score - best).exp())
            .sum();
        let theirs = lingua_probabilities(text);
        for ((index, score), (their_language, theirs)) in ranking.ranked.iter().take(3).zip(&theirs)
        {
            let ours = (score - best).exp() / total;
            assert_eq!(scorer().language(*index), *their_language, "{text}");
            assert!((ours - theirs).abs() < 0.01, "{text}: {ours} vs {theirs}");
        }
    }

    #[test]
    fn lingua_rules_leave_ascii_text_to_the_scores() {
        // A word or two and short phrases whose letters are all ASCII: lingua's character
        // rules (letters with diacritics or of other alphabets) do not apply, so its answer
        // over every language is the scores'; and the leaders write every letter, so the
        // detector's letter rule leaves them too.
        let texts = [
            "harbour",
            "good morning",
            "selamat pagi",
            "habari yako",
            "goeie more",
            "dobro jutro",
            "the fishermen went home early",
            "de vissers gingen vroeg naar huis",
        ];
        for text in texts {
            let ranking = scorer().rank(text);
            assert!(text.is_ascii(), "{text}");
            for (index, _) in ranking
                .ranked
                .iter()
                .take(crate::language::SHORT_TEXT_CANDIDATES)
            {
                assert_eq!(ranking.unwritten_letters[*index], 0, "{text}");
            }
            assert_top_three_are_linguas(text);
        }
        // English does not write `ż`: one of the text's three distinct letters.
        let ranking = scorer().rank("żaba");
        let english = (0..scorer().language_count())
            .find(|index| scorer().language(*index) == Language::English)
            .unwrap();
        let polish = (0..scorer().language_count())
            .find(|index| scorer().language(*index) == Language::Polish)
            .unwrap();
        assert_eq!(ranking.unwritten_letters[english], 1);
        assert_eq!(ranking.unwritten_letters[polish], 0);
    }

    #[test]
    fn languages_of_an_alphabet_are_neighbouring_lanes() {
        for (alphabet, (start, end)) in scorer().alphabet_lanes.iter().enumerate() {
            assert!(start.is_multiple_of(LANE_GROUP));
            assert!(end.is_multiple_of(LANE_GROUP));
            assert!(*end <= LANES);
            for index in 0..scorer().language_count() {
                if scorer().writes(index, alphabet) {
                    assert!(
                        (*start..*end).contains(&index),
                        "{:?}",
                        scorer().language(index)
                    );
                }
            }
        }
        let latin = scorer().alphabet_lanes[alphabet_named("Latin")];
        assert!(latin.1 - latin.0 < LANES, "{latin:?}");
    }

    #[test]
    fn weighted_rows_add_exactly() {
        let row: Vec<i16> = (0..LANES as i16).map(|lane| (lane - 40) * 700).collect();
        let mut sums = vec![5i32; LANES];
        add_weighted_row(&mut sums, &row, 300);
        for (lane, sum) in sums.iter().enumerate() {
            assert_eq!(*sum, 5 + 300 * i32::from(row[lane]));
        }
    }

    #[test]
    fn text_without_letters_scores_nothing() {
        let ranking = scorer().rank("12, 34 !? —");
        assert_eq!(ranking.letters, 0);
        assert!(ranking.ranked.is_empty());
        assert_eq!(ranking.alphabet, None);
    }
}
