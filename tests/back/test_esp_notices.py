"""Reading ESP payloads (issue 22): every shape a provider sends, and hostile ones, give notices or NoticeError."""

from __future__ import annotations

import json

import pytest

from digest.back.esp import NoticeError, mailgun_notices, postmark_notices, sendgrid_notices, ses_notices

ODD = [None, 1, "x", [], {}, [1, "a", None], {"a": [1]}, {"mail": 3, "bounce": "x", "notificationType": "Bounce"},
       {"notificationType": "Bounce", "mail": {"headers": 5, "commonHeaders": []}, "bounce": {
           "bouncedRecipients": [1, {"emailAddress": 7, "status": ["5.1.1"]}]}}]


@pytest.mark.parametrize("value", ODD)
def test_odd_shapes_never_raise_anything_but_notice_error(value: object):
    body = json.dumps(value)
    for parse in (lambda: ses_notices(body, key="k"), lambda: postmark_notices(body.encode()),
                  lambda: sendgrid_notices(body.encode()),
                  lambda: mailgun_notices(value if isinstance(value, dict) else {})):
        try:
            notices = parse()
        except NoticeError:
            continue
        assert all(isinstance(n.email, str) and n.kind for n in notices)


def _ses(status: str, diagnostic: str, kind: str = "Permanent", subtype: str = "General") -> str:
    return ses_notices(json.dumps({"notificationType": "Bounce", "mail": {"commonHeaders": {"messageId": "<m>"}},
                                   "bounce": {"bounceType": kind, "bounceSubType": subtype, "feedbackId": "f",
                                              "bouncedRecipients": [{"emailAddress": "a@example.com",
                                                                     "status": status,
                                                                     "diagnosticCode": diagnostic}]}}),
                       key="k")[0].kind


def test_the_server_words_decide_through_the_bounce_policy():
    assert _ses("5.1.1", "smtp; 550 5.1.1 user unknown") == "hard"
    assert _ses("5.2.2", "smtp; 552 5.2.2 Mailbox full") == "soft"
    assert _ses("5.7.1", "smtp; 550 5.7.1 rejected by content policy") == "refused"
    assert _ses("4.4.7", "", kind="Transient") == "soft"
    assert _ses("", "", subtype="NoEmail") == "hard"  # no words: SES's own verdict
    assert _ses("", "", kind="Transient", subtype="MessageTooLarge") == "refused"
    assert _ses("5.1.1", "smtp; 550 5.1.1 user unknown", kind="Transient") == "soft"  # never at once when transient


def test_headers_without_common_headers_still_name_the_message():
    data = {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "a@x.org"}]},
            "mail": {"headers": [{"name": "Message-ID", "value": "<digest.1.abc@x>"}]}}
    [notice] = ses_notices(json.dumps(data), key="k")
    assert (notice.kind, notice.reference) == ("complaint", "<digest.1.abc@x>")
