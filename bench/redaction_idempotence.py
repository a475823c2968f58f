"""Search for texts that redaction does not leave alone the second time.

    python bench/redaction_idempotence.py [--texts 40000] [--seed 1] [--show 20]

Each text is a random string of fragments: the hard set's templates and look-alikes
(``redaction_hardset.py``: sign-offs, actions, cues, dates of birth, streets, references),
names from both of its parts, titles, initials, cue words and punctuation, joined by spaces,
commas, full stops or line breaks. A counterexample is a text ``x`` (with a few known
identifiers, at the anonymous or pseudonymous level) where ``redact(redact(x)) != redact(x)``.
It prints how many texts were tried, how many failed, and the first few (shortest first).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import redaction_hardset as hs

_TITLES = ("Dr", "Mrs", "Mr", "Ms", "Dr.", "Mrs.", "Nurse", "Cllr")
_INITIALS = ("J.", "C.", "R.", "A. K.", "I.")
_CUES = (
    *("Thanks,", "Thanks", "Cheers", "Dear", "Hi", "Regards,", "Best wishes", "Action:"),
    *("said", "explained", "was", "'s", "to", "call", "my", "son", "I'm", "saw", "with"),
    *("Present:", "Apologies:", "my son", "called", "people call me", "Visited with", "by"),
    *("signed by", "spoke to", "said", "told", "to call GP", "to chase", "and", "&", "-"),
)
_WORDS = (
    *("Lane", "Will", "May", "Grace", "Hope", "Hall", "Park", "Green", "Street", "Road"),
    *("House", "St.", "Mary's", "Victoria", "White", "Young", "Black", "Hill", "Oakfield"),
    *("Smith", "Baker", "Khan", "Popescu", "Jan", "June", "Rose", "Bill", "Mark", "Summer"),
    *("Ruth", "Jo", "Priya", "Sam", "Amira", "Oana", "Radu", "Tavi", "Kai", "Harry", "Will"),
)
_SEPARATORS = (" ", " ", " ", " ", ", ", ". ", "\n", ": ", " - ")


def _fragments(rng: random.Random) -> list[str]:
    sets = {part: hs.HardSet(part, seed=rng.randrange(1000)) for part in hs.PARTS}
    out: list[str] = [*_TITLES, *_INITIALS, *_CUES, *_WORDS]
    for hard in sets.values():
        out += rng.sample(hard.first_names, min(60, len(hard.first_names)))
        out += [hard._full() for _ in range(40)]
        for before, after in (*hard.single, *hard.full, *hard.dob):
            out += [before.strip(), after.strip()]
        out += [s.strip() for s in hard.name_negs]
        out += [make(rng) for make in hard.ref_negs]
        out += [hs._street_layout(hard.fake, rng, hard.street_styles)[0] for _ in range(10)]
        out += [hs._dob_value(rng) for _ in range(5)]
    return [f for f in out if f]


def texts(n: int, seed: int) -> list[tuple[str, list[str], str]]:
    """``n`` (text, known identifiers, level) triples."""
    rng = random.Random(seed)
    frags = _fragments(rng)
    names = [f for f in frags if f[:1].isupper() and f.replace(" ", "").isalpha()]
    # The shipped-list names and cue words above, weighted up against the generated ones.
    short = [f for f in frags if " " not in f.strip()] + [*_TITLES, *_INITIALS, *_CUES, *_WORDS] * 4
    out = []
    for i in range(n):
        # Half the texts are built from single words, so cues, titles, initials and names
        # meet each other often; the other half from whole fragments.
        pool = short if i % 2 else frags
        parts = [rng.choice(pool) for _ in range(rng.randint(2, 8))]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(_SEPARATORS) + p
        known = rng.sample(names, rng.choice((0, 0, 0, 1, 2)))
        out.append((text, known, rng.choice(("anonymous", "pseudonymous"))))
    return out


#: A small vocabulary of every kind of word the PERSON recogniser decides from, for
#: ``--exhaustive``: every sequence of up to that many of them, joined by spaces.
_VOCAB = (
    *("Ruth", "Jo", "Will", "May", "Grace", "Lane", "Baker", "White", "Oana", "Dr", "J."),
    *("Thanks,", "Cheers", "Present:", "said", "and", "Hall", "Road", "St.", "-", "to call"),
    *("my son", "Victoria", "Popescu", "12", "."),
)


def exhaustive(length: int) -> list[tuple[str, list[str], str]]:
    """Every sequence of ``length`` words of the small vocabulary, anonymous, no known ids."""
    import itertools

    return [
        (" ".join(words), [], "anonymous") for words in itertools.product(_VOCAB, repeat=length)
    ]


def main() -> None:
    """Try the texts and print the counterexamples found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=20)
    parser.add_argument(
        "--exhaustive", type=int, default=0, help="Every sequence of this many vocabulary words."
    )
    args = parser.parse_args()
    from coprolib.redaction import redact

    failed = []
    cases = exhaustive(args.exhaustive) if args.exhaustive else texts(args.texts, args.seed)
    for text, known, level in cases:
        once = redact(text, level, known).text
        twice = redact(once, level, known).text
        if twice != once:
            failed.append((text, known, level, once, twice))
    how = f"exhaustive {args.exhaustive}" if args.exhaustive else f"seed {args.seed}"
    print(f"{how}: {len(cases)} texts tried, {len(failed)} not idempotent")
    for text, known, level, once, twice in sorted(failed, key=lambda f: len(f[0]))[: args.show]:
        print(f"  {text!r} known={known} {level}\n    once:  {once!r}\n    twice: {twice!r}")


if __name__ == "__main__":
    main()
