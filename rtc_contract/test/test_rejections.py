"""One vocabulary of refusal codes: unique, printed as their value (the /diagnostics and log text)."""
from __future__ import annotations

from rtc_contract.chunk_signature import BAD_SIGNATURE, REPLAY, UNKNOWN_KEY, UNSIGNED
from rtc_contract.rejections import RejectionCode


def test_codes_are_unique_lowercase_words_printed_as_their_value():
    values = [code.value for code in RejectionCode]
    assert len(values) == len(set(values))
    for code in RejectionCode:
        assert code.value == code.name.lower() and str(code) == f"{code}" == code.value


def test_the_signature_codes_are_members():
    assert {UNSIGNED, UNKNOWN_KEY, BAD_SIGNATURE, REPLAY} <= set(RejectionCode)
