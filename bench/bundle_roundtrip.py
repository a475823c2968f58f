"""Benchmark: 100k stories with consents through unstructure -> JSON text -> structure.

Prints the time and the ratio against ``json.dumps``/``json.loads`` of the same plain dicts,
measured in the same run (target: no more than 3x). Run: ``python bench/bundle_roundtrip.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time

from coprolib.records import Consent, ConsentEvent, ConsentTerms, Quote, Story
from coprolib.records.convert import converter
from coprolib.records.enums import Audience, ConsentEventType, IdentityLevel, Purpose, StorySource


def make_records(n: int, seed: int = 7) -> tuple[list[Story], list[Consent]]:
    """``n`` stories, each with one consent of two events."""
    rnd = random.Random(seed)
    words = [
        "trust",
        "help",
        "agency",
        "worker",
        "home",
        "phone",
        "visit",
        "plan",
        "contract",
        "stayed",
        "rang",
        "form",
    ]
    stories, consents = [], []
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        text = " ".join(rnd.choice(words) for _ in range(60))
        stories.append(
            Story(
                id=f"s-{i}",
                contributor_ids=(f"p-{i % 5000}",),
                text=text,
                source=StorySource.INTERVIEW,
                collected_on=dt.date(2025, 1, 1 + i % 28),
                themes=(rnd.choice(words), rnd.choice(words)),
                quotes=(Quote(id="q", start=0, end=20),),
            )
        )
        consents.append(
            Consent(
                id=f"c-{i}",
                contributor_id=f"p-{i % 5000}",
                story_ids=(f"s-{i}",),
                events=(
                    ConsentEvent(
                        type=ConsentEventType.GIVEN,
                        at=at,
                        terms=ConsentTerms(
                            purposes=(Purpose.TRAINING, Purpose.COMMISSIONING),
                            audiences=(Audience.INTERNAL, Audience.PARTNERS),
                            identity_level=IdentityLevel.PSEUDONYMOUS,
                        ),
                    ),
                    ConsentEvent(
                        type=ConsentEventType.WITHDRAWN,
                        at=at + dt.timedelta(days=30),
                        audiences=(Audience.PARTNERS,),
                    ),
                ),
            )
        )
    return stories, consents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()
    stories, consents = make_records(args.n)
    plain_s = [converter.unstructure(s, Story) for s in stories]
    plain_c = [converter.unstructure(c, Consent) for c in consents]

    t0 = time.perf_counter()
    text = json.dumps({"stories": plain_s, "consents": plain_c})
    back = json.loads(text)
    baseline = time.perf_counter() - t0
    assert len(back["stories"]) == args.n

    t0 = time.perf_counter()
    text = json.dumps(
        {
            "stories": [converter.unstructure(s, Story) for s in stories],
            "consents": [converter.unstructure(c, Consent) for c in consents],
        }
    )
    data = json.loads(text)
    rs = [converter.structure(d, Story) for d in data["stories"]]
    rc = [converter.structure(d, Consent) for d in data["consents"]]
    ours = time.perf_counter() - t0
    assert rs == stories and rc == consents

    mb = len(text.encode()) / 1e6
    print(f"records: {args.n} stories + {args.n} consents ({mb:.1f} MB of JSON)")
    print(f"json.dumps+loads of plain dicts: {baseline:.2f} s")
    print(f"coprolib unstructure+dumps+loads+structure: {ours:.2f} s")
    print(f"ratio: {ours / baseline:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
