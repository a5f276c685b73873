"""Wake claims: the wire form is checked strictly, and every assistant derives the same winner from arrival order."""

from __future__ import annotations

import json

import pytest

from assistant.home.claims import MAX_BYTES, BadClaim, Claim, Rounds, parse_claim


def claim(ident: str, score: float, nonce: str = "", conv: bool = False, wake: float = 0.9) -> Claim:
    return Claim(ident, nonce or (ident.encode().hex() + "00000000")[:16], score, wake, conv, 1.7e9)


def test_a_claim_round_trips_through_its_wire_form():
    c = claim("kitchen", -21.5, conv=True)
    assert parse_claim(c.encode().encode()) == c
    assert len(c.encode()) < MAX_BYTES


@pytest.mark.parametrize("payload", [
    b"", b"not json", b"[]", b'{"v":1}', b"x" * (MAX_BYTES + 1),
    b'{"v":2,"id":"a","n":"0123456789abcdef","score":1}',
    b'{"v":1,"id":"Kitchen!","n":"0123456789abcdef","score":1}',
    b'{"v":1,"id":"a","n":"short","score":1}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":1e308}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":NaN}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":true}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":1,"wake":2}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":1,"conv":"yes"}',
    b'{"v":1,"id":"a","n":"0123456789abcdef","score":1,"extra":1}',
    b'\xff\xfe',
])
def test_malformed_claims_are_refused(payload):
    with pytest.raises(BadClaim):
        parse_claim(payload)


def test_the_loudest_member_of_a_round_wins_and_every_assistant_agrees():
    rounds = Rounds(window_s=0.15)
    a, b, c = claim("bedroom", -30.0), claim("kitchen", -18.0), claim("living", -24.0)
    for t, x in ((10.00, a), (10.04, b), (10.09, c)):
        rounds.add(x, t)
    assert [rounds.decide(x.nonce, 10.10) for x in (a, b, c)] == [None, None, None]  # the window is still open
    assert [rounds.decide(x.nonce, 10.15) for x in (a, b, c)] == [False, True, False]
    assert rounds.winner(a.nonce) == b
    assert rounds.decide(b.nonce, 10.10, expected=3) is True  # all three claimed: no need to wait
    assert rounds.decide(b.nonce, 10.10, expected=4) is None


def test_a_claim_after_the_window_is_late_and_loses_even_when_louder():
    rounds = Rounds(window_s=0.15)
    first, late = claim("bedroom", -30.0), claim("kitchen", -10.0)
    rounds.add(first, 5.0)
    rounds.add(late, 5.2)
    assert rounds.decide(late.nonce, 5.2) is False
    assert rounds.decide(first.nonce, 5.16) is True


def test_ties_break_the_same_way_everywhere_and_a_conversation_keeps_the_floor():
    rounds = Rounds(window_s=0.1)
    x, y = claim("aa", -20.0, wake=0.9), claim("bb", -20.0, wake=0.9)
    rounds.add(y, 1.0)
    rounds.add(x, 1.01)
    assert rounds.decide(y.nonce, 1.2) is True and rounds.decide(x.nonce, 1.2) is False
    rounds2 = Rounds(window_s=0.1)
    loud, talking = claim("kitchen", -5.0), claim("bedroom", -40.0, conv=True)
    rounds2.add(loud, 1.0)
    rounds2.add(talking, 1.05)
    assert rounds2.decide(loud.nonce, 1.2) is False


def test_a_new_round_opens_after_the_span_and_old_claims_expire():
    rounds = Rounds(window_s=0.15, span_s=1.0)
    old = claim("kitchen", 0.0)
    rounds.add(old, 1.0)
    quiet = claim("bedroom", -50.0)
    rounds.add(quiet, 2.5)  # a later wake word: its own round, the loud old claim does not count
    assert rounds.decide(quiet.nonce, 2.7) is True
    rounds.add(claim("living", -40.0), 10.0)
    assert rounds.arrival(old.nonce) is None


def test_an_unheard_claim_is_undecided():
    assert Rounds(0.15).decide("0123456789abcdef", 100.0) is None


def test_claims_carry_the_detection_time_but_it_is_never_compared():
    early_clock = json.loads(Claim("a", "0123456789abcdef", -20.0, sent_at=1.0).encode())
    assert early_clock["t"] == 1.0
    rounds = Rounds(0.1)
    skewed = Claim("a", "0123456789abcdef", -20.0, sent_at=9e9)
    rounds.add(skewed, 3.0)
    assert rounds.decide(skewed.nonce, 3.2) is True
