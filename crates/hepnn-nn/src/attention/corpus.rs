//! A small French → English grammar for the translation demo ("Je mange un kiwi" → "I am eating
//! a kiwi"): subjects, verbs, objects, three tenses, negation, with agreement on both sides
//! (French conjugation and elision j'/n', English am/is/are, a/an, did not, will).
//!
//! Every sentence is one combination (subject, verb, object, tense, negation); the whole
//! language has 11 × 8 × 12 × 3 × 2 = 6336 pairs. [`split`] draws a seeded random training set
//! and a held-out set of combinations never seen in training (each word is seen, the combination
//! is not); "je mange un kiwi" is always held out.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Padding token id.
pub const PAD: usize = 0;
/// Begin-of-sequence token id.
pub const BOS: usize = 1;
/// End-of-sequence token id.
pub const EOS: usize = 2;
/// Unknown-word token id.
pub const UNK: usize = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<s>", "</s>", "<unk>"];

/// (French, English, person 0–5 for the conjugation: je, tu, il, nous, vous, ils).
const SUBJECTS: [(&str, &str, usize); 11] = [
    ("je", "I", 0),
    ("tu", "you", 1),
    ("il", "he", 2),
    ("elle", "she", 2),
    ("le garçon", "the boy", 2),
    ("la fille", "the girl", 2),
    ("nous", "we", 3),
    ("vous", "you", 4),
    ("ils", "they", 5),
    ("elles", "they", 5),
    ("les enfants", "the children", 5),
];

struct Verb {
    present: [&'static str; 6],
    future_stem: &'static str,
    participle: &'static str,
    base: &'static str,
    ing: &'static str,
    past: &'static str,
}

const VERBS: [Verb; 8] = [
    Verb {
        present: ["mange", "manges", "mange", "mangeons", "mangez", "mangent"],
        future_stem: "manger",
        participle: "mangé",
        base: "eat",
        ing: "eating",
        past: "ate",
    },
    Verb {
        present: [
            "achète",
            "achètes",
            "achète",
            "achetons",
            "achetez",
            "achètent",
        ],
        future_stem: "achèter",
        participle: "acheté",
        base: "buy",
        ing: "buying",
        past: "bought",
    },
    Verb {
        present: ["prends", "prends", "prend", "prenons", "prenez", "prennent"],
        future_stem: "prendr",
        participle: "pris",
        base: "take",
        ing: "taking",
        past: "took",
    },
    Verb {
        present: ["coupe", "coupes", "coupe", "coupons", "coupez", "coupent"],
        future_stem: "couper",
        participle: "coupé",
        base: "cut",
        ing: "cutting",
        past: "cut",
    },
    Verb {
        present: ["lave", "laves", "lave", "lavons", "lavez", "lavent"],
        future_stem: "laver",
        participle: "lavé",
        base: "wash",
        ing: "washing",
        past: "washed",
    },
    Verb {
        present: [
            "cuisine",
            "cuisines",
            "cuisine",
            "cuisinons",
            "cuisinez",
            "cuisinent",
        ],
        future_stem: "cuisiner",
        participle: "cuisiné",
        base: "cook",
        ing: "cooking",
        past: "cooked",
    },
    Verb {
        present: ["vends", "vends", "vend", "vendons", "vendez", "vendent"],
        future_stem: "vendr",
        participle: "vendu",
        base: "sell",
        ing: "selling",
        past: "sold",
    },
    Verb {
        present: [
            "choisis",
            "choisis",
            "choisit",
            "choisissons",
            "choisissez",
            "choisissent",
        ],
        future_stem: "choisir",
        participle: "choisi",
        base: "choose",
        ing: "choosing",
        past: "chose",
    },
];

const OBJECTS: [(&str, &str); 12] = [
    ("un kiwi", "a kiwi"),
    ("une pomme", "an apple"),
    ("une orange", "an orange"),
    ("un gâteau", "a cake"),
    ("une banane", "a banana"),
    ("le pain", "the bread"),
    ("la soupe", "the soup"),
    ("les fraises", "the strawberries"),
    ("un œuf", "an egg"),
    ("le poisson", "the fish"),
    ("une poire", "a pear"),
    ("les carottes", "the carrots"),
];

const FUTURE_ENDINGS: [&str; 6] = ["ai", "as", "a", "ons", "ez", "ont"];
const AVOIR: [&str; 6] = ["ai", "as", "a", "avons", "avez", "ont"];

/// The tense of a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tense {
    /// French présent → English present progressive ("je mange" → "I am eating").
    Present,
    /// Passé composé → simple past ("j'ai mangé" → "I ate").
    Past,
    /// Futur simple → will ("je mangerai" → "I will eat").
    Future,
}

/// One sentence of the grammar, by the index of each choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combination {
    /// Index into the subjects.
    pub subject: usize,
    /// Index into the verbs.
    pub verb: usize,
    /// Index into the objects.
    pub object: usize,
    /// The tense.
    pub tense: Tense,
    /// "ne … pas" / "not".
    pub negated: bool,
}

/// Every combination of the grammar, in a fixed order.
pub fn all_combinations() -> Vec<Combination> {
    let mut out = Vec::new();
    for subject in 0..SUBJECTS.len() {
        for verb in 0..VERBS.len() {
            for object in 0..OBJECTS.len() {
                for tense in [Tense::Present, Tense::Past, Tense::Future] {
                    for negated in [false, true] {
                        out.push(Combination {
                            subject,
                            verb,
                            object,
                            tense,
                            negated,
                        });
                    }
                }
            }
        }
    }
    out
}

fn starts_with_vowel(word: &str) -> bool {
    word.starts_with(['a', 'e', 'é', 'è', 'i', 'o', 'u', 'œ'])
}

/// French elision: "je" → "j'" and "ne" → "n'" before a vowel (as separate tokens).
fn elide(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next_vowel = words.get(i + 1).is_some_and(|n| starts_with_vowel(n));
        out.push(match w.as_str() {
            "je" if next_vowel => "j'".to_string(),
            "ne" if next_vowel => "n'".to_string(),
            _ => w.clone(),
        });
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split_whitespace().map(str::to_string)
}

impl Combination {
    /// The French sentence as tokens (lower case, elided articles as their own token).
    pub fn french(&self) -> Vec<String> {
        let (subject, _, person) = SUBJECTS[self.subject];
        let verb = &VERBS[self.verb];
        let mut w: Vec<String> = words(subject).collect();
        let neg = |w: &mut Vec<String>, v: String| {
            if self.negated {
                w.extend(["ne".to_string(), v, "pas".to_string()]);
            } else {
                w.push(v);
            }
        };
        match self.tense {
            Tense::Present => neg(&mut w, verb.present[person].to_string()),
            Tense::Future => neg(
                &mut w,
                format!("{}{}", verb.future_stem, FUTURE_ENDINGS[person]),
            ),
            Tense::Past => {
                neg(&mut w, AVOIR[person].to_string());
                w.push(verb.participle.to_string());
            }
        }
        w.extend(words(OBJECTS[self.object].0));
        elide(w)
    }

    /// The English sentence as tokens.
    pub fn english(&self) -> Vec<String> {
        let (_, subject, person) = SUBJECTS[self.subject];
        let verb = &VERBS[self.verb];
        let mut w: Vec<String> = words(subject).collect();
        let not = || self.negated.then(|| "not".to_string());
        match self.tense {
            Tense::Present => {
                let be = match person {
                    0 => "am",
                    2 => "is",
                    _ => "are",
                };
                w.push(be.into());
                w.extend(not());
                w.push(verb.ing.into());
            }
            Tense::Past if self.negated => {
                w.extend(["did".into(), "not".into(), verb.base.into()]);
            }
            Tense::Past => w.push(verb.past.into()),
            Tense::Future => {
                w.push("will".into());
                w.extend(not());
                w.push(verb.base.into());
            }
        }
        w.extend(words(OBJECTS[self.object].1));
        w
    }
}

/// Splits a sentence into tokens: lower case, on white space, and after an apostrophe
/// ("J'achète" → "j'", "achète").
pub fn tokenize(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in sentence.to_lowercase().split_whitespace() {
        let word = word.trim_matches(|c: char| c == '.' || c == ',' || c == '!' || c == '?');
        match word.find('\'') {
            Some(i) if i + 1 < word.len() => {
                out.push(word[..=i].to_string());
                out.push(word[i + 1..].to_string());
            }
            _ if !word.is_empty() => out.push(word.to_string()),
            _ => {}
        }
    }
    out
}

/// A vocabulary: token ↔ id, with the special tokens first.
#[derive(Debug, Clone)]
pub struct Vocab {
    tokens: Vec<String>,
}

impl Vocab {
    /// The sorted set of `sentences`' tokens after the special tokens.
    pub fn build<'a>(sentences: impl IntoIterator<Item = &'a Vec<String>>) -> Self {
        let mut set: Vec<String> = sentences.into_iter().flatten().cloned().collect();
        set.sort();
        set.dedup();
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        tokens.extend(set);
        Self { tokens }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when only the special tokens are there.
    pub fn is_empty(&self) -> bool {
        self.tokens.len() <= SPECIALS.len()
    }

    /// Token ids (unknown words → [`UNK`]).
    pub fn encode(&self, tokens: &[String]) -> Vec<usize> {
        tokens
            .iter()
            .map(|t| self.tokens.iter().position(|x| x == t).unwrap_or(UNK))
            .collect()
    }

    /// The words of `ids`, joined by spaces.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&i| self.tokens.get(i).map_or("<unk>", String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The token of one id.
    pub fn token(&self, id: usize) -> &str {
        self.tokens.get(id).map_or("<unk>", String::as_str)
    }
}

/// The combination of "je mange un kiwi" (present, affirmative).
pub fn kiwi() -> Combination {
    Combination {
        subject: 0,
        verb: 0,
        object: 0,
        tense: Tense::Present,
        negated: false,
    }
}

/// A seeded split into `n_train` training combinations and `n_heldout` held-out ones (disjoint);
/// "je mange un kiwi" is always in the held-out set.
pub fn split(n_train: usize, n_heldout: usize, seed: u64) -> (Vec<Combination>, Vec<Combination>) {
    let mut all: Vec<Combination> = all_combinations()
        .into_iter()
        .filter(|c| *c != kiwi())
        .collect();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_heldout = n_heldout.max(1).min(all.len() + 1);
    let mut heldout = vec![kiwi()];
    heldout.extend(all.drain(..n_heldout - 1));
    let train = all.into_iter().take(n_train).collect();
    (train, heldout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_agrees_and_elides() {
        let show = |c: Combination| (c.french().join(" "), c.english().join(" "));
        assert_eq!(
            show(kiwi()),
            ("je mange un kiwi".into(), "I am eating a kiwi".into())
        );
        let c = |subject, verb, object, tense, negated| Combination {
            subject,
            verb,
            object,
            tense,
            negated,
        };
        assert_eq!(
            show(c(0, 1, 1, Tense::Past, true)),
            (
                "je n' ai pas acheté une pomme".into(),
                "I did not buy an apple".into()
            )
        );
        assert_eq!(
            show(c(0, 1, 2, Tense::Future, false)),
            (
                "j' achèterai une orange".into(),
                "I will buy an orange".into()
            )
        );
        assert_eq!(
            show(c(10, 2, 7, Tense::Present, true)),
            (
                "les enfants ne prennent pas les fraises".into(),
                "the children are not taking the strawberries".into()
            )
        );
        assert_eq!(
            show(c(2, 6, 8, Tense::Past, false)),
            ("il a vendu un œuf".into(), "he sold an egg".into())
        );
        assert_eq!(
            tokenize("J'achète un kiwi."),
            ["j'", "achète", "un", "kiwi"]
        );
        assert_eq!(all_combinations().len(), 6336);
    }

    #[test]
    fn heldout_is_disjoint_and_holds_the_kiwi() {
        let (train, heldout) = split(3000, 300, 1);
        assert_eq!((train.len(), heldout.len()), (3000, 300));
        assert!(heldout.contains(&kiwi()));
        assert!(train.iter().all(|c| !heldout.contains(c)));
    }
}
