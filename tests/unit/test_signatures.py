"""Standard Webhooks signing and the verification helper receivers use."""

from __future__ import annotations

from auth0_webhooks.signatures import sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LTEyMzQ1Ng=="
BODY = b'{"test": 2432232314}'
MSG, STAMP = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330


def headers(signature: str, stamp: int = STAMP) -> dict[str, str]:
    return {"Webhook-Id": MSG, "Webhook-Timestamp": str(stamp), "Webhook-Signature": signature}


def test_the_standard_webhooks_vector_verifies():
    signature = sign(MSG, STAMP, BODY, [SECRET])
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert verify([SECRET], headers(signature), BODY, now=STAMP + 10)


def test_rotation_either_secret_verifies_while_both_are_listed():
    signature = sign(MSG, STAMP, BODY, [SECRET, OLD_SECRET])
    assert len(signature.split()) == 2
    assert verify([OLD_SECRET], headers(signature), BODY, now=STAMP)
    assert verify([SECRET], headers(signature), BODY, now=STAMP)


def test_tampered_body_wrong_secret_and_stale_timestamps_are_refused():
    signature = sign(MSG, STAMP, BODY, [SECRET])
    assert not verify([SECRET], headers(signature), BODY + b" ", now=STAMP)
    assert not verify([OLD_SECRET], headers(signature), BODY, now=STAMP)
    assert not verify([SECRET], headers(signature), BODY, now=STAMP + 301)
    assert not verify([SECRET], headers(signature), BODY, now=STAMP - 301)
    assert not verify([SECRET], headers("v1,AAAA"), BODY, now=STAMP)
    assert not verify([SECRET], {"webhook-signature": signature}, BODY, now=STAMP)
