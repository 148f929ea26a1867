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
//! The tables are built from the model bytes once per detector (about 235 MB, ~1.5 s on one
//! core). Scoring a text prefetches every prefix's slot, then finds the slots and prefetches
//! what they point to, then adds up; the languages of one alphabet are neighbouring lanes of a
//! dense row, so a text adds only its alphabet's lanes.
//!
//! A text is scored in steps of [`EARLY_ANSWER_STEP_LETTERS`] letters, and the rest is skipped
//! once the answer is already clear ([`EARLY_ANSWER_MARGIN`]). Each step adds its new
//! prefixes, and for the earlier steps' prefixes the growth of their weights (later n-grams
//! extend them): after the last step the sums are exactly the whole text's.

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
    /// The lower case of the characters below [`LOWER_CASE_TABLE_END`] whose lower case is
    /// one character ('\0' where it is several).
    lower_case: Vec<char>,
    patterns: RegexSet,
}

const ALPHABET_SHIFT: u32 = 16;

/// Characters below this (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, …) are
/// lower-cased by a table: the Unicode case tables are searched otherwise.
const LOWER_CASE_TABLE_END: u32 = 0x800;

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
            lower_case: (0..LOWER_CASE_TABLE_END)
                .map(|code| {
                    let c = char::from_u32(code).unwrap_or('\0');
                    let mut lower = c.to_lowercase();
                    match (lower.next(), lower.next()) {
                        (Some(single), None) => single,
                        _ => '\0',
                    }
                })
                .collect(),
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
            mut chars,
            mut bounds,
        } = WORD_BUFFERS.with(|buffers| std::mem::take(&mut *buffers.borrow_mut()));
        chars.clear();
        bounds.clear();
        let mut reader = WordReader {
            table,
            words: Words {
                chars,
                bounds,
                alphabet_chars: [0; ALPHABETS.len()],
            },
            word: None,
        };
        // Lower-cased character by character (ASCII, most of most texts, on its own): the same
        // as lingua's `str::to_lowercase` except for a word-final Greek sigma, and Greek is
        // never scored (one language writes it).
        for c in text.chars() {
            if c.is_ascii() {
                reader.step(c.to_ascii_lowercase());
                continue;
            }
            match table.lower_case.get(c as usize) {
                Some(&lower) if lower != '\0' => reader.step(lower),
                _ => c.to_lowercase().for_each(|lower| reader.step(lower)),
            }
        }
        reader.end_word();
        reader.words
    }

    /// Hands the buffers back for the next text.
    fn recycle(self) {
        WORD_BUFFERS.with(|buffers| {
            *buffers.borrow_mut() = WordBuffers {
                chars: self.chars,
                bounds: self.bounds,
            }
        });
    }

    fn letters(&self) -> usize {
        self.chars.len()
    }

    /// The end (a word index) of the step of reading that starts at word `start`: after the
    /// first word that completes [`EARLY_ANSWER_STEP_LETTERS`] letters, or the end of the
    /// text. Text scored by trigrams alone is read in one step: those scores are plain sums
    /// (not divided by the letters known), so a lead in them says less than the same lead with
    /// orders 1 to 5; and without lingua's character rules (which the scorer leaves out) they
    /// favour a language that knows few of the text's letters (an n-gram a language does not
    /// know at all costs it nothing), which part of such a text may not outweigh.
    fn step_end(&self, start: usize) -> usize {
        if self.letters() >= TRIGRAMS_ONLY_FROM_LETTERS {
            return self.bounds.len();
        }
        let read = start.checked_sub(1).map_or(0, |last| self.bounds[last].1);
        self.bounds[start..]
            .iter()
            .position(|(_, end)| *end >= read + EARLY_ANSWER_STEP_LETTERS)
            .map_or(self.bounds.len(), |index| start + index + 1)
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

/// Splits lower-cased characters into words as lingua's word pattern does, one at a time.
struct WordReader<'t> {
    table: &'t CharTable,
    words: Words,
    /// The word being read: the pattern alternative it matched, whether that alternative is
    /// a run, and its alphabet + 1 (0 once its letters are of several).
    word: Option<(u32, bool, u32)>,
}

impl WordReader<'_> {
    #[inline]
    fn step(&mut self, c: char) {
        let class = self.table.get(c);
        if let Some((first, runs, alphabet)) = &mut self.word {
            // The regex takes the first alternative that matches, and a run as far as it goes.
            if *runs && class & (1 << *first) != 0 {
                if class >> ALPHABET_SHIFT != *alphabet {
                    *alphabet = 0;
                }
                self.words.chars.push(c);
                return;
            }
            self.end_word();
        }
        let alternatives = class & ((1 << (LETTER_ALTERNATIVE + 1)) - 1);
        if alternatives == 0 {
            return;
        }
        let first = alternatives.trailing_zeros();
        let runs = first as usize == LETTER_ALTERNATIVE || WORD_ALTERNATIVES[first as usize].1;
        self.words
            .bounds
            .push((self.words.chars.len(), self.words.chars.len()));
        self.words.chars.push(c);
        self.word = Some((first, runs, class >> ALPHABET_SHIFT));
        if !runs {
            self.end_word();
        }
    }

    /// Closes the word being read, if any.
    #[inline]
    fn end_word(&mut self) {
        let Some((_, _, alphabet)) = self.word.take() else {
            return;
        };
        let end = self.words.chars.len();
        let Some(bounds) = self.words.bounds.last_mut() else {
            return;
        };
        bounds.1 = end;
        if alphabet != 0 {
            self.words.alphabet_chars[alphabet as usize - 1] += end - bounds.0;
        }
    }
}

thread_local! {
    /// Per thread, reused across texts: the words' letters and bounds.
    static WORD_BUFFERS: std::cell::RefCell<WordBuffers> = std::cell::RefCell::default();
}

#[derive(Default)]
struct WordBuffers {
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

/// What a text's prefixes found in the tables, gathered before adding up: the slot of each
/// prefix a few languages know, the dense row of each prefix many know.
#[derive(Default)]
struct Gathered {
    /// Order, dense row and prefix (index) of each prefix many languages know.
    rows: Vec<(u8, u32, u32)>,
    /// Order, slot and prefix (index) of each prefix a few languages know.
    lists: Vec<(u8, u32, u32)>,
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
/// of that length is as many scattered adds, with a branch per entry. Measured over 5 to 40
/// (`PATHS_ONLY=1 … langid_dev`), 5 was fastest: 6% faster than 12, though the rows take more
/// memory than the lists.
const DENSE_MIN_LANGUAGES: usize = 5;

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

/// Whether the processor has AVX2 (checked once per scorer).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// [`add_weighted_row`] with 256-bit vectors: each increment widened to 32 bits, times the
/// weight (`vpmaddwd` of the widened increment and the weight, whose upper halves are 0 for a
/// weight of at least 0), added to the sums. Half the instructions of the SSE2 loop.
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn add_weighted_row_avx2(sums: &mut [i32], row: &[i16], weight: i16) {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi32, _mm256_cvtepi16_epi32, _mm256_loadu_si256,
        _mm256_madd_epi16, _mm256_set1_epi32, _mm256_storeu_si256, _mm_loadu_si128,
    };
    let lanes = sums.len().min(row.len()) / LANE_GROUP * LANE_GROUP;
    let weights = _mm256_set1_epi32(i32::from(weight));
    for lane in (0..lanes).step_by(LANE_GROUP) {
        // SAFETY: lane + 8 <= lanes <= both lengths: 8 i16 (16 bytes) read from row and 8 i32
        // (32 bytes) read and written in sums, unaligned.
        unsafe {
            let increments =
                _mm256_cvtepi16_epi32(_mm_loadu_si128(row.as_ptr().add(lane) as *const __m128i));
            let products = _mm256_madd_epi16(increments, weights);
            let sums_at = sums.as_mut_ptr().add(lane) as *mut __m256i;
            _mm256_storeu_si256(
                sums_at,
                _mm256_add_epi32(_mm256_loadu_si256(sums_at), products),
            );
        }
    }
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
    /// The scores are those of the text's beginning, whose answer was already clear: the
    /// rest was not read.
    pub(crate) stopped_early: bool,
}

/// How much of a text [`NgramScorer::rank_reading`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The whole text at once (what lingua does; tests compare the two).
    #[cfg(test)]
    Whole,
    /// Step by step, until the answer is clear.
    StopWhenClear,
    /// Step by step to the end (the same sums as `Whole`, added in steps).
    #[cfg(test)]
    InSteps,
}

/// A text is read in steps of at least this many letters (whole words): a few words, whose
/// scores can already settle the answer; fewer would say less than the margin claims.
pub(crate) const EARLY_ANSWER_STEP_LETTERS: usize = 30;

/// The rest of a text is not read when, after a step, the best language leads the second by
/// at least this much (natural log, on lingua's scores): odds of e^3 ≈ 20 to 1, where the
/// detector answers a whole text by the scores alone from 2 to 1. Chosen on the team's
/// development lines: from 3 on, none of the 1,800 lines changed answer (at 2 ln 2, with the
/// text read in halves, two did). Most sentences are that clear well before their end;
/// reading the rest would cost as much again for the same answer.
pub(crate) const EARLY_ANSWER_MARGIN: f64 = 3.0;

/// Whether the best of `ranked` (in no order) leads the second by [`EARLY_ANSWER_MARGIN`].
fn leader_is_clear(ranked: &[Scored]) -> bool {
    let (mut best, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &(_, score) in ranked {
        if score > best {
            second = best;
            best = score;
        } else if score > second {
            second = score;
        }
    }
    best - second >= EARLY_ANSWER_MARGIN
}

/// Per-language running totals while a text is scored.
struct Tally {
    /// Sums of weighted increments (1/[`SCALE`] nat).
    sums: [i32; LANES],
    /// How many of the text's distinct letters each language knows.
    known_letters: [u32; LANES],
    /// How many it writes (see [`MIN_WRITTEN_LETTER_PROBABILITY`]).
    written_letters: [u32; LANES],
    /// Whether letters are scored (orders from 1), so counted.
    count_letters: bool,
}

impl Tally {
    /// Counts a letter of the text that the entry's language knows.
    #[inline]
    fn count_letter(&mut self, entry: u32, written_threshold: i16) {
        self.known_letters[entry_language(entry)] += 1;
        self.written_letters[entry_language(entry)] +=
            u32::from(entry as u16 as i16 >= written_threshold);
    }
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
    /// Whether rows are added with AVX2.
    avx2: bool,
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
            avx2: has_avx2(),
        }
    }

    /// Finds the slots of the prefixes from `first_new` on and gathers what they point to
    /// (prefetched, added up later); counts the languages' known and written letters.
    fn find_new(
        &self,
        prefixes: &mut PrefixWeights,
        first_new: usize,
        gathered: &mut Gathered,
        tally: &mut Tally,
        lanes: &std::ops::Range<usize>,
    ) {
        // The lookups miss the cache (the tables are ~235 MB): first prefetch every new
        // prefix's home slot; then find the slots and prefetch what they point to.
        for prefix in &prefixes.entries[first_new..] {
            let table = &self.tables[usize::from(prefix.order) - 1];
            prefetch(&table.slots[table.home(prefix.key)]);
        }
        // A letter's increment is its log probability (it has no prefix).
        let written_threshold = (MIN_WRITTEN_LETTER_PROBABILITY.ln() * SCALE) as i16;
        let Gathered { rows, lists } = gathered;
        for index in first_new..prefixes.entries.len() {
            let prefix = &prefixes.entries[index];
            // Parents come first: a prefix that no language knows rules out its extensions.
            if prefix.parent != NO_PARENT
                && prefixes.entries[prefix.parent as usize].slot == NO_SLOT
            {
                continue;
            }
            let order = usize::from(prefix.order);
            // lingua divides by how many of the text's letters a language knows (the
            // letters' table is small and stays in the cache).
            let is_letter = tally.count_letters && order == 1;
            let table = &self.tables[order - 1];
            let Some(slot) = table.find(prefix.key) else {
                continue;
            };
            let entry_index = index as u32;
            // What the slot points to is fetched while the next prefixes are looked up, and
            // added up afterwards.
            match table.entries_of(slot) {
                Entries::One(entry) => {
                    if is_letter {
                        tally.count_letter(entry, written_threshold);
                    }
                    lists.push((order as u8, slot as u32, entry_index));
                }
                Entries::Many(entries) => {
                    prefetch(&entries[0]);
                    if is_letter {
                        for entry in entries {
                            tally.count_letter(*entry, written_threshold);
                        }
                    }
                    lists.push((order as u8, slot as u32, entry_index));
                }
                Entries::Dense(row) => {
                    let row = &row[lanes.clone()];
                    // Every cache line of the alphabet's lanes (32 lanes per line).
                    for lane in (0..row.len()).step_by(32) {
                        prefetch(&row[lane]);
                    }
                    prefetch(&row[row.len() - 1]);
                    if is_letter {
                        for (known, &increment) in
                            tally.known_letters[lanes.clone()].iter_mut().zip(row)
                        {
                            *known += u32::from(increment != 0);
                        }
                        for (written, &increment) in
                            tally.written_letters[lanes.clone()].iter_mut().zip(row)
                        {
                            *written += u32::from(increment != 0 && increment >= written_threshold);
                        }
                    }
                    rows.push((order as u8, table.payload(slot) as u32, entry_index));
                }
            }
            prefixes.entries[index].slot = slot as u32;
        }
    }

    /// Adds to the sums each found prefix's increments times the part of its weight not
    /// added yet (all of it when new; what the latest words added to it otherwise).
    fn add_weight_changes(
        &self,
        prefixes: &mut PrefixWeights,
        gathered: &Gathered,
        sums: &mut [i32; LANES],
        lanes: &std::ops::Range<usize>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the processor has AVX2 (see `has_avx2`).
            unsafe { self.add_row_weight_changes_avx2(prefixes, &gathered.rows, sums, lanes) };
        } else {
            self.add_row_weight_changes::<false>(prefixes, &gathered.rows, sums, lanes);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.add_row_weight_changes::<false>(prefixes, &gathered.rows, sums, lanes);
        for &(order, slot, entry) in &gathered.lists {
            let weight = prefixes.take_unadded(entry);
            if weight == 0 {
                continue;
            }
            let mut add = |entry: u32| {
                sums[entry_language(entry)] += i32::from(weight) * i32::from(entry as u16 as i16);
            };
            match self.tables[usize::from(order) - 1].entries_of(slot as usize) {
                Entries::One(entry) => add(entry),
                Entries::Many(entries) => entries.iter().copied().for_each(add),
                // Rows are added above.
                Entries::Dense(_) => {}
            }
        }
    }

    /// The rows' part of [`Self::add_weight_changes`], compiled for AVX2.
    ///
    /// # Safety
    /// The processor must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_row_weight_changes_avx2(
        &self,
        prefixes: &mut PrefixWeights,
        rows: &[(u8, u32, u32)],
        sums: &mut [i32; LANES],
        lanes: &std::ops::Range<usize>,
    ) {
        self.add_row_weight_changes::<true>(prefixes, rows, sums, lanes);
    }

    /// Adds each gathered row times its prefix's weight not added yet; with AVX2 only when
    /// inlined into [`Self::add_row_weight_changes_avx2`].
    #[inline(always)]
    fn add_row_weight_changes<const AVX2: bool>(
        &self,
        prefixes: &mut PrefixWeights,
        rows: &[(u8, u32, u32)],
        sums: &mut [i32; LANES],
        lanes: &std::ops::Range<usize>,
    ) {
        for &(order, row, entry) in rows {
            let weight = prefixes.take_unadded(entry);
            if weight == 0 {
                continue;
            }
            let dense = &self.tables[usize::from(order) - 1].dense;
            let row = &dense[row as usize * LANES..(row as usize + 1) * LANES];
            let (sums, row) = (&mut sums[lanes.clone()], &row[lanes.clone()]);
            #[cfg(target_arch = "x86_64")]
            if AVX2 {
                // SAFETY: AVX2 is only true in the function compiled for AVX2, called only
                // when the processor has it.
                unsafe { add_weighted_row_avx2(sums, row, weight) };
                continue;
            }
            add_weighted_row(sums, row, weight);
        }
    }

    /// The scores (lingua's: sum over the letters the language knows) of the languages of the
    /// text's alphabet that know any of its n-grams, in no order.
    fn rank_lanes(
        &self,
        tally: &Tally,
        alphabet: Option<Alphabet>,
        lanes: &std::ops::Range<usize>,
        ranked: &mut Vec<Scored>,
    ) {
        ranked.clear();
        let scored_lanes = lanes.start..lanes.end.min(self.languages.len());
        ranked.reserve_exact(scored_lanes.len());
        for index in scored_lanes {
            let sum = tally.sums[index];
            if sum == 0 || alphabet.is_some_and(|alphabet| !self.writes(index, alphabet)) {
                continue;
            }
            let mut score = f64::from(sum) / SCALE;
            if tally.known_letters[index] > 0 {
                score /= f64::from(tally.known_letters[index]);
            }
            ranked.push((index, score));
        }
    }

    pub(crate) fn language(&self, index: usize) -> Language {
        self.languages[index]
    }

    pub(crate) fn language_count(&self) -> usize {
        self.languages.len()
    }

    /// How many languages are written in `alphabet`.
    pub(crate) fn languages_writing(&self, alphabet: Alphabet) -> usize {
        (0..self.languages.len())
            .filter(|index| self.writes(*index, alphabet))
            .count()
    }

    /// Bytes held by the tables (slots, entry lists, dense rows).
    pub(crate) fn table_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|table| {
                std::mem::size_of_val(table.slots.as_slice())
                    + std::mem::size_of_val(table.entries.as_slice())
                    + std::mem::size_of_val(table.dense.as_slice())
            })
            .sum()
    }

    /// Whether `language` (by index) is written in `alphabet`.
    pub(crate) fn writes(&self, index: usize, alphabet: Alphabet) -> bool {
        self.language_alphabets[index] & (1 << alphabet) != 0
    }

    /// lingua's n-gram scores of `text` for every language written in its alphabet, read in
    /// steps until the answer is clear (see [`EARLY_ANSWER_MARGIN`]). Linear in the text.
    pub(crate) fn rank(&self, text: &str) -> Ranking {
        self.rank_reading(text, Reading::StopWhenClear)
    }

    /// lingua's n-gram scores of the whole of `text` (what lingua computes).
    #[cfg(test)]
    pub(crate) fn rank_whole(&self, text: &str) -> Ranking {
        self.rank_reading(text, Reading::Whole)
    }

    fn rank_reading(&self, text: &str, reading: Reading) -> Ranking {
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
            Some(alphabet) => self.languages_writing(alphabet),
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
            stopped_early: false,
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
        // Only the lanes of the text's alphabet's languages count.
        let lanes = match alphabet {
            Some(alphabet) => self.alphabet_lanes[alphabet].0..self.alphabet_lanes[alphabet].1,
            None => 0..LANES,
        };
        let word_count = words.bounds.len();
        let mut tally = Tally {
            sums: [0; LANES],
            known_letters: [0; LANES],
            written_letters: [0; LANES],
            count_letters: *orders.start() == 1,
        };
        let mut prefixes = PrefixWeights::start(&words, *orders.end());
        GATHERED.with(|gathered| {
            let mut gathered = gathered.borrow_mut();
            gathered.rows.clear();
            gathered.lists.clear();
            let mut start = 0;
            loop {
                let end = match reading {
                    #[cfg(test)]
                    Reading::Whole => word_count,
                    _ => words.step_end(start),
                };
                let first_new = prefixes.entries.len();
                prefixes.add_words(&words, start..end, orders.clone());
                self.find_new(&mut prefixes, first_new, &mut gathered, &mut tally, &lanes);
                self.add_weight_changes(&mut prefixes, &gathered, &mut tally.sums, &lanes);
                self.rank_lanes(&tally, alphabet, &lanes, &mut ranking.ranked);
                if end >= word_count {
                    break;
                }
                if reading == Reading::StopWhenClear && leader_is_clear(&ranking.ranked) {
                    ranking.stopped_early = true;
                    break;
                }
                start = end;
            }
        });
        words.recycle();
        if tally.count_letters {
            let distinct_letters = prefixes
                .entries
                .iter()
                .filter(|prefix| prefix.order == 1)
                .count();
            for (unwritten, written) in ranking
                .unwritten_letters
                .iter_mut()
                .zip(tally.written_letters)
            {
                *unwritten = distinct_letters
                    .saturating_sub(written as usize)
                    .min(u16::MAX.into()) as u16;
            }
        }
        prefixes.recycle();

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
    /// The entry of this prefix minus its last character (always earlier in the list).
    parent: u32,
    /// Its slot in the table, once found (tables have fewer than 2^32 slots).
    slot: u32,
    /// How many distinct n-grams (of the orders scored) of the words read so far it begins:
    /// at most 5 per letter, so within 16 bits for a detector's sample (saturating beyond).
    weight: u16,
    /// How much of `weight` the sums hold.
    added: u16,
    /// Its length in characters.
    order: u8,
}

/// How often each distinct prefix counts in lingua's sums: once for every distinct n-gram (of
/// each order scored) that it begins.
struct PrefixWeights {
    entries: Vec<PrefixEntry>,
}

impl PrefixWeights {
    /// An empty list, with room for the prefixes of all of `words` up to order `top`.
    fn start(words: &Words, top: usize) -> Self {
        let positions: usize = words.bounds.iter().map(|(start, end)| end - start).sum();
        let capacity = (positions * top * 2).max(16).next_power_of_two();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.prefix_index.reset(capacity);
            // The list of a previous text, kept for its capacity.
            let mut entries = std::mem::take(&mut scratch.spare_entries);
            entries.clear();
            entries.reserve(positions * top);
            PrefixWeights { entries }
        })
    }

    /// Adds the distinct prefixes of the n-grams of `words.bounds[range]` not seen before,
    /// and counts every prefix's weight over all the words added so far.
    fn add_words(
        &mut self,
        words: &Words,
        range: std::ops::Range<usize>,
        orders: std::ops::RangeInclusive<usize>,
    ) {
        let (lowest, top) = (*orders.start(), *orders.end());
        SCRATCH.with(|scratch| {
            let prefix_index = &mut scratch.borrow_mut().prefix_index;
            for &(start, end) in &words.bounds[range] {
                let word = &words.chars[start..end];
                for position in 0..word.len() {
                    let longest = top.min(word.len() - position);
                    let mut hash = HASH_SEED;
                    let mut parent = NO_PARENT;
                    for (k, &c) in word[position..position + longest].iter().enumerate() {
                        let order = k + 1;
                        hash = extend(hash, c);
                        let next = self.entries.len() as u32;
                        // The chained hash tells n-grams apart here; the table key (a further
                        // mix) is needed only for each distinct one.
                        let index = match prefix_index.insert(tagged(hash, order), next) {
                            Some(existing) => existing,
                            None => {
                                self.entries.push(PrefixEntry {
                                    key: key_bits(hash),
                                    parent,
                                    slot: NO_SLOT,
                                    weight: 0,
                                    added: 0,
                                    order: order as u8,
                                });
                                next
                            }
                        };
                        parent = index;
                    }
                }
            }
        });
        // A distinct n-gram of an order scored counts once for itself and once for each of
        // its prefixes. Children come after their parent: in reverse, each entry's count is
        // complete when it is handed to its parent.
        for entry in &mut self.entries {
            entry.weight = u16::from(usize::from(entry.order) >= lowest);
        }
        for index in (0..self.entries.len()).rev() {
            let parent = self.entries[index].parent;
            if parent != NO_PARENT {
                let weight = self.entries[index].weight;
                let parent = &mut self.entries[parent as usize];
                parent.weight = parent.weight.saturating_add(weight);
            }
        }
    }

    /// The part of the weight of prefix `entry` that the sums do not hold yet, now marked as
    /// held.
    #[inline]
    fn take_unadded(&mut self, entry: u32) -> i16 {
        let prefix = &mut self.entries[entry as usize];
        let change = prefix.weight - prefix.added;
        prefix.added = prefix.weight;
        // At most 5 × MAX_SAMPLE_BYTES distinct n-grams: within i16.
        change.min(i16::MAX as u16) as i16
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
        // Upper case beyond ASCII; `İ` lower-cases to `i` and a combining dot (not a letter).
        assert_eq!(words_of("ÉTÉ ПРИВЕТ Ωμέγα"), ["été", "привет", "ωμέγα"]);
        assert_eq!(words_of("İzmir"), ["i", "zmir"]);
    }

    #[test]
    fn prefixes_count_once_per_distinct_ngram_they_begin() {
        let collect = |words: &Words, orders: std::ops::RangeInclusive<usize>| {
            let mut weights = PrefixWeights::start(words, *orders.end());
            weights.add_words(words, 0..words.bounds.len(), orders);
            weights
        };
        let words = Words::read("aaaa aaaa", &scorer().chars);
        let weights = collect(&words, 1..=MAX_ORDER);
        let by_order: Vec<(u8, u16)> = weights
            .entries
            .iter()
            .map(|entry| (entry.order, entry.weight))
            .collect();
        // Distinct n-grams: a, aa, aaa, aaaa; "a" begins all four, "aaaa" only itself.
        assert_eq!(by_order, [(1, 4), (2, 3), (3, 2), (4, 1)]);

        let trigrams_only = collect(&words, 3..=3);
        let by_order: Vec<(u8, u16)> = trigrams_only
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
        let ranking = scorer().rank_whole(text);
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
        for avx2 in [false, has_avx2()] {
            let mut sums = vec![5i32; LANES];
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: only when the processor has AVX2.
                unsafe { add_weighted_row_avx2(&mut sums, &row, 300) };
            }
            if !avx2 {
                add_weighted_row(&mut sums, &row, 300);
            }
            for (lane, sum) in sums.iter().enumerate() {
                assert_eq!(*sum, 5 + 300 * i32::from(row[lane]), "avx2 {avx2}");
            }
        }
    }

    /// The ranking's scores, best first.
    fn sorted_scores(mut ranking: Ranking) -> Vec<Scored> {
        ranking
            .ranked
            .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranking.ranked
    }

    #[test]
    fn scores_added_in_two_steps_are_the_whole_texts() {
        // A later step's n-grams extend prefixes of earlier steps': their weights grow,
        // and what was already added must not be added twice.
        let texts = [
            "The committee will publish its report on the state of the harbour next month",
            "Komisja opublikuje raport o stanie portu w przyszłym miesiącu, po wysłuchaniu rybaków",
            "Die Kommission wird ihren Bericht über den Zustand des Hafens bald veröffentlichen",
        ];
        for text in texts {
            let words = Words::read(text, &scorer().chars);
            assert!(words.step_end(0) < words.bounds.len(), "{text}");
            words.recycle();
            let in_steps = scorer().rank_reading(text, Reading::InSteps);
            let whole = scorer().rank_reading(text, Reading::Whole);
            assert!(!in_steps.stopped_early, "{text}");
            assert_eq!(sorted_scores(in_steps), sorted_scores(whole), "{text}");
        }
    }

    #[test]
    fn a_clear_beginning_answers_alone() {
        let text = "The weather was fine and the children played in the garden while their \
                    parents were talking with the neighbours about the new school";
        let early = scorer().rank(text);
        assert!(early.stopped_early);
        let whole = scorer().rank_whole(text);
        assert!(!whole.stopped_early);
        let (early, whole) = (sorted_scores(early), sorted_scores(whole));
        assert_eq!(scorer().language(early[0].0), Language::English);
        assert_eq!(early[0].0, whole[0].0);
        assert!(early[0].1 - early[1].1 >= EARLY_ANSWER_MARGIN);
        // Only the beginning was scored.
        assert_ne!(early, whole);
    }

    #[test]
    fn text_scored_by_trigrams_is_read_whole() {
        // On its beginning, Xhosa, which knows none of `ə`, `ğ`, `ı`, … (so loses nothing on
        // them), leads this Azerbaijani text by trigrams; the whole text is Azerbaijani.
        let text = "Uşaq olanda babam hər yay məni özü ilə dağa aparardı ki, kəklikotu yığaq, \
                    və mən o sakit, günəşli günləri indi də böyük həsrətlə xatırlayıram. \
                    Yanğınsöndürənlər bütün gecə Quba yaxınlığında başlayan meşə yanğını ilə \
                    mübarizə apardılar; güclü külək alovun tez yayılmasına səbəb olsa da, \
                    xoşbəxtlikdən xəsarət alan olmayıb.";
        assert!(Words::read(text, &scorer().chars).letters() >= TRIGRAMS_ONLY_FROM_LETTERS);
        let ranking = scorer().rank(text);
        assert!(!ranking.stopped_early);
        let best = sorted_scores(ranking)[0].0;
        assert_eq!(scorer().language(best), Language::Azerbaijani);
    }

    #[test]
    fn an_unclear_beginning_reads_the_rest() {
        // Bosnian and Croatian share nearly every word of this text.
        let text = "Vlada je u ponedjeljak objavila da će novi zakon stupiti na snagu \
                    sljedećeg mjeseca, nakon što ga usvoji parlament u Sarajevu";
        let ranking = scorer().rank(text);
        assert!(!ranking.stopped_early, "{:?}", sorted_scores(ranking));
        assert_eq!(
            sorted_scores(scorer().rank(text)),
            sorted_scores(scorer().rank_whole(text))
        );
    }

    #[test]
    fn text_without_letters_scores_nothing() {
        let ranking = scorer().rank("12, 34 !? —");
        assert_eq!(ranking.letters, 0);
        assert!(ranking.ranked.is_empty());
        assert_eq!(ranking.alphabet, None);
    }
}
