"""A small resolved history written as a real CSV, shared by the finetune tests (and a check that the
importer reads it as intended).

Thirty distinct tickets over three queues, plus rows that each filter must catch: exact and near
duplicates, an auto-reply, a too-short ticket, unresolved and unlabelled ones. Some customers have
several tickets (the split must keep them together) and several rows carry PII.
"""

from __future__ import annotations

import csv
from pathlib import Path

from knowledge.importers import parse_mapping, read_tickets

DISTINCT: list[tuple[str, str, str, str, str]] = [
    # subject, body, queue, priority, reply
    (
        "Invoice missing",
        "I cannot find the invoice for March in the billing portal.",
        "billing",
        "low",
        "Invoices are under Settings, Billing, Invoices.",
    ),
    (
        "Charged twice",
        "My card 4111 1111 1111 1111 was charged twice for the same subscription.",
        "billing",
        "high",
        "We refunded the duplicate charge; it shows within five days.",
    ),
    (
        "VAT number on receipt",
        "Our receipts need to show the company VAT number for the auditors.",
        "billing",
        "low",
        "Add the VAT number under Billing details; new invoices will show it.",
    ),
    (
        "Refund for unused seats",
        "We removed five seats last week, can we get money back for them?",
        "billing",
        "medium",
        "Unused seats are credited pro rata on the next invoice.",
    ),
    (
        "Change payment method",
        "How do I switch from credit card to bank transfer for yearly billing?",
        "billing",
        "low",
        "Yearly plans can pay by transfer; we sent the form.",
    ),
    (
        "Price increase question",
        "Why did the monthly price go up without any notice to us?",
        "billing",
        "medium",
        "The new price was announced in June; you keep the old price until renewal.",
    ),
    (
        "Pay to our IBAN",
        "Please transfer the refund to DE89 3704 0044 0532 0130 00 as discussed.",
        "billing",
        "medium",
        "The refund goes to the account you gave us within three days.",
    ),
    (
        "Currency of invoices",
        "Can invoices be issued in euros instead of US dollars from now on?",
        "billing",
        "low",
        "Switch the billing currency in Settings before the next cycle.",
    ),
    (
        "Failed card payment",
        "The renewal failed and says the card was declined by the bank.",
        "billing",
        "high",
        "Please update the card; we retry the payment automatically.",
    ),
    (
        "Discount for nonprofits",
        "Do you offer reduced pricing for registered charities?",
        "billing",
        "low",
        "Nonprofits get 30 percent off; send us your registration.",
    ),
    (
        "Password reset mail missing",
        "I requested a password reset twice but no mail arrived at anna@example.com.",
        "account",
        "medium",
        "Hi Anna, check spam; we resent the link to your address.",
    ),
    (
        "Two-factor phone lost",
        "I lost the phone with my authenticator app and cannot log in now.",
        "account",
        "high",
        "We verified you and disabled two-factor; set it up again.",
    ),
    (
        "Rename workspace",
        "How can an admin rename our workspace and its web address?",
        "account",
        "low",
        "Admins rename the workspace under Settings, General.",
    ),
    (
        "Delete my account",
        "Please delete my personal account and all data you hold about me.",
        "account",
        "medium",
        "Your account is scheduled for deletion within 30 days.",
    ),
    (
        "Add a second admin",
        "Our only admin is leaving; how do we give admin rights to a colleague?",
        "account",
        "medium",
        "The current admin can promote a member under Members.",
    ),
    (
        "Login with Google fails",
        "Signing in with Google loops back to the login page endlessly.",
        "account",
        "high",
        "Clear cookies for our domain and try again; we fixed a redirect bug.",
    ),
    (
        "Change account email",
        "I changed jobs; move my login to my new address please.",
        "account",
        "low",
        "Change your email under Profile; confirm the link we send.",
    ),
    (
        "Locked after failed attempts",
        "The account is locked after too many wrong passwords this morning.",
        "account",
        "medium",
        "The lock lifts after 30 minutes, or reset your password.",
    ),
    (
        "SSO setup help",
        "We want to connect Okta single sign-on for the whole company.",
        "account",
        "medium",
        "Follow the SSO guide; enterprise plans include SAML.",
    ),
    (
        "Transfer ownership",
        "Make my colleague the owner of the organisation instead of me.",
        "account",
        "low",
        "Owners transfer ownership under Organisation settings.",
    ),
    (
        "Dashboard very slow",
        "Loading the analytics dashboard takes more than a minute since Monday.",
        "tech",
        "high",
        "We found a slow query and deployed a fix.",
    ),
    (
        "CSV export broken",
        "Exporting reports as CSV produces an empty file with only headers.",
        "tech",
        "medium",
        "A fix for empty exports is live; please export again.",
    ),
    (
        "API returns 500",
        "Our integration gets HTTP 500 from the orders endpoint for every call.",
        "tech",
        "high",
        "The orders API had an outage; it is resolved now.",
    ),
    (
        "Webhook not firing",
        "Webhooks for new orders stopped arriving at our server 10.20.30.40 yesterday.",
        "tech",
        "high",
        "Your endpoint timed out; we re-enabled the webhook.",
    ),
    (
        "Mobile app crash",
        "The iPhone app crashes right after opening the calendar view.",
        "tech",
        "medium",
        "Update to version 5.2, which fixes the calendar crash.",
    ),
    (
        "Dark mode request",
        "Would you consider adding a dark theme to the web application?",
        "tech",
        "low",
        "Dark mode is on our roadmap; we noted your vote.",
    ),
    (
        "Search ignores accents",
        "Searching for Müller does not find records spelled Mueller.",
        "tech",
        "low",
        "Accent-insensitive search ships next month.",
    ),
    (
        "Upload size limit",
        "Uploading a 3 GB video fails at about ninety percent every time.",
        "tech",
        "medium",
        "Files above 2 GB need the desktop uploader.",
    ),
    (
        "Calendar sync duplicates",
        "Every event from Outlook appears twice after the calendar sync.",
        "tech",
        "medium",
        "Disconnect and reconnect the calendar to remove duplicates.",
    ),
    (
        "Printer integration",
        "The label printer prints blank pages from the shipping screen.",
        "tech",
        "low",
        "Install the new printer driver from the downloads page.",
    ),
]

HEADER = ["ticket_id", "subject", "body", "queue", "priority", "answer", "customer", "created_at"]


def ticket_rows() -> list[dict[str, str]]:
    rows = []
    for number, (subject, body, queue, priority, reply) in enumerate(DISTINCT, start=1):
        # Customers 1–3 have three tickets each in different queues: the split must keep each together.
        customer = f"cus_{(number - 1) % 10 + 1}" if number <= 30 and (number - 1) % 10 < 3 else f"cus_x{number}"
        if number == 11:
            body += " Call me on +49 30 12345678 if needed.\n\nBest regards,\nAnna Schmidt"
        rows.append(
            {
                "ticket_id": f"T{number}",
                "subject": subject,
                "body": body,
                "queue": queue,
                "priority": priority,
                "answer": reply,
                "customer": customer,
                "created_at": f"2024-{(number - 1) // 28 + 1:02d}-{(number - 1) % 28 + 1:02d}T10:00:00Z",
            }
        )
    base = {"queue": "tech", "priority": "low", "created_at": "2024-03-01T09:00:00Z"}
    extra = [
        # exact duplicates of T1 and T21 (case and spacing differ only)
        {
            "ticket_id": "D1",
            "subject": "INVOICE MISSING",
            "body": "I cannot find the invoice  for March in the billing portal.",
            "queue": "billing",
            "answer": "Invoices are under Settings.",
            "customer": "cus_d1",
        },
        {
            "ticket_id": "D2",
            "subject": "Dashboard very slow",
            "body": DISTINCT[20][1],
            "answer": "Fixed.",
            "customer": "cus_d2",
        },
        # near duplicates of T25 and T29: one word changed
        {
            "ticket_id": "N1",
            "subject": "Mobile app crash",
            "body": "The iPhone app crashes right after opening the calendar screen.",
            "answer": "Update to 5.2.",
            "customer": "cus_n1",
        },
        {
            "ticket_id": "N2",
            "subject": "Calendar sync duplicates",
            "body": "Every event from Outlook shows up twice after the calendar sync.",
            "answer": "Reconnect the calendar.",
            "customer": "cus_n2",
        },
        # a paraphrase of T22 (cosine ≈ 0.92): kept, but it must share T22's side of the split
        {
            "ticket_id": "P1",
            "subject": "CSV export is empty",
            "body": "When I export a report as CSV the file only contains the header row.",
            "queue": "tech",
            "answer": "Export again after the fix.",
            "customer": "cus_p1",
        },
        {
            "ticket_id": "A1",
            "subject": "Automatic reply: Out of office",
            "body": "I am out of the office until Monday with limited access to email.",
            "answer": "Closed.",
            "customer": "cus_a1",
        },
        {"ticket_id": "S1", "subject": "", "body": "help", "answer": "How can we help?", "customer": "cus_s1"},
        {
            "ticket_id": "U1",
            "subject": "Feature flag stuck",
            "body": "The beta flag stays enabled for our team even after switching it off.",
            "answer": "",
            "customer": "cus_u1",
        },
        {
            "ticket_id": "U2",
            "subject": "Audit log export",
            "body": "Is there a way to export the audit log to our SIEM every night?",
            "answer": "",
            "customer": "cus_u2",
        },
        {
            "ticket_id": "L1",
            "subject": "Thanks for the quick fix",
            "body": "Just wanted to say the new release solved our reporting problem completely.",
            "queue": "",
            "priority": "",
            "answer": "Glad it works!",
            "customer": "cus_l1",
        },
    ]
    for row in extra:
        rows.append({**base, **row})
    return rows


def write_tickets_csv(path: Path, rows: list[dict[str, str]] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=HEADER)
        writer.writeheader()
        for row in rows or ticket_rows():
            writer.writerow({key: row.get(key, "") for key in HEADER})
    return path


MAP_ARGS = [
    "--map",
    "id=ticket_id",
    "--map",
    "subject=subject",
    "--map",
    "body=body",
    "--map",
    "queue=queue",
    "--map",
    "priority=priority",
    "--map",
    "reply=answer",
    "--map",
    "customer_id=customer",
    "--map",
    "created_at=created_at",
]


def test_fixture_csv_imports_cleanly(tmp_path: Path) -> None:
    specs = [spec for spec in MAP_ARGS if spec != "--map"]
    report = read_tickets(write_tickets_csv(tmp_path / "t.csv"), parse_mapping(specs))
    assert not report.rejects
    assert len(report.tickets) == len(ticket_rows()) == 40
    assert sum(1 for t in report.tickets if t.customer and t.customer.id == "cus_1") == 3
