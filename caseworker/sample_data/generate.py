"""Rebuild history.jsonl and incoming.jsonl for the fictional "Flowbase" sample.

The ticket texts are hand-written in ``sources/*.txt`` (one block per ticket, see the format below);
this script only assigns customers, dates, channels and ids, and adds light, realistic wrapping
(greetings, e-mail signatures, agent sign-offs, quoted earlier replies on follow-ups). It is seeded,
so the output is byte-for-byte reproducible:

    python caseworker/sample_data/generate.py

Source block format (history)::

    ## <category> <P0-P3> <type> <sentiment> | tag, tag | key=value ...
    Subject line
    ---
    Body (any number of lines)
    ---
    Agent reply
    +++ <priority> <sentiment> [at=...]      (optional follow-up from the same customer)
    Follow-up body
    ---
    Follow-up reply

Options: ``t=`` allowed tiers (letters f/p/b/e), ``ch=`` channel, ``lang=`` de/fr/es, ``cust=`` a
customer id, ``ext=1`` (sender has no account), ``who=`` index of that customer's contact, ``agent=``
a fixed agent name, ``at=`` a fixed created_at, ``raw=1`` (no greeting/signature added).
Placeholders: {first} (contact first name), {company}, {ws} (workspace slug).
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from customers import AGENTS, CUSTOMERS, PINNED_ONLY, QUEUES, contacts_for, random_contact

HERE = Path(__file__).resolve().parent
START = datetime(2026, 5, 1, tzinfo=UTC)
END = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)

GREET = {
    "en": [
        "Hi,",
        "Hello,",
        "Hi team,",
        "Hi Flowbase support,",
        "Hello there,",
        "Good morning,",
        "Dear Flowbase team,",
        "Hey,",
        "Hi all,",
        "Dear Support,",
    ],
    "de": [
        "Hallo,",
        "Guten Tag,",
        "Sehr geehrte Damen und Herren,",
        "Hallo zusammen,",
        "Hallo Flowbase-Team,",
    ],
    "fr": ["Bonjour,", "Bonjour à tous,", "Madame, Monsieur,", "Bonjour l'équipe Flowbase,"],
    "es": ["Hola,", "Buenos días,", "Estimado equipo de Flowbase:", "Hola equipo,"],
}
CLOSE = {
    "en": [
        "Thanks,",
        "Thanks!",
        "Best,",
        "Regards,",
        "Cheers,",
        "Thank you,",
        "Kind regards,",
        "Many thanks,",
    ],
    "de": ["Viele Grüße", "Mit freundlichen Grüßen", "Danke und Gruß", "Beste Grüße"],
    "fr": ["Merci,", "Cordialement,", "Bien à vous,", "Merci d'avance,"],
    "es": ["Gracias,", "Saludos,", "Un saludo,", "Muchas gracias,"],
}
REPLY_HI = {
    "en": ["Hi {n},", "Hello {n},", "Hi {n}, thanks for getting in touch.", "Hey {n},"],
    "de": ["Hallo {n},", "Guten Tag {n},"],
    "fr": ["Bonjour {n},"],
    "es": ["Hola {n}:", "Hola {n},"],
}
REPLY_BYE = {
    "en": [
        "Best,\n{a}\nFlowbase Support",
        "Kind regards,\n{a} (Flowbase Support)",
        "— {a}, Flowbase Support",
        "Cheers,\n{a}",
        "Thanks,\n{a} | Flowbase Customer Support",
    ],
    "de": ["Viele Grüße\n{a}\nFlowbase Support", "Beste Grüße\n{a} (Flowbase Support)"],
    "fr": ["Bien cordialement,\n{a}\nSupport Flowbase", "Belle journée,\n{a} – Support Flowbase"],
    "es": ["Un saludo,\n{a}\nSoporte de Flowbase", "Saludos cordiales,\n{a} (Soporte Flowbase)"],
}
WROTE = {
    "en": "On {d}, {a} (Flowbase Support) <support@flowbase.example> wrote:",
    "de": "Am {d} schrieb {a} (Flowbase Support) <support@flowbase.example>:",
    "fr": "Le {d}, {a} (Support Flowbase) <support@flowbase.example> a écrit :",
    "es": "El {d}, {a} (Soporte Flowbase) <support@flowbase.example> escribió:",
}
GREETING_WORDS = {"Hi", "Hello", "Hey", "Dear", "Hallo", "Guten", "Sehr", "Bonjour", "Madame", "Hola", "Buenos"}
EXTERNAL = "cus_0Ext00"
TIER_WEIGHT = {"enterprise": 3.0, "business": 2.6, "pro": 1.6, "free": 1.0}
TIER_LETTER = {"free": "f", "pro": "p", "business": "b", "enterprise": "e"}


def parse_sources(paths):
    tickets = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"^## ", text, flags=re.M)[1:]:
            header, rest = block.split("\n", 1)
            parts = [p.strip() for p in header.split("|")]
            cat, pri, typ, sent = parts[0].split()
            tags = [t.strip() for t in parts[1].split(",") if t.strip()]
            opts = dict(kv.split("=", 1) for kv in parts[2].split()) if len(parts) > 2 else {}
            main, *follows = rest.rstrip().split("\n+++ ")
            subject, body, reply = (s.strip() for s in main.split("\n---\n"))
            fups = []
            for f in follows:
                fhead, frest = f.split("\n", 1)
                fp = fhead.split()
                fopts = dict(kv.split("=", 1) for kv in fp[2:])
                fbody, freply = (s.strip() for s in frest.split("\n---\n"))
                fups.append({"priority": fp[0], "sentiment": fp[1], "body": fbody, "reply": freply, **fopts})
            tickets.append(
                {
                    "category": cat,
                    "priority": pri,
                    "type": typ,
                    "sentiment": sent,
                    "tags": tags,
                    "opts": opts,
                    "subject": subject,
                    "body": body,
                    "reply": reply,
                    "follow": fups,
                    "src": path.name,
                }
            )
    return tickets


def iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:00Z")


def pretty_date(d: datetime) -> str:
    return d.strftime("%a, %d %b %Y at %H:%M")


class Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: dict[str, list[datetime]] = {}

    def pick_customer(self, opts):
        if "cust" in opts or opts.get("ext") == "1":
            wanted = opts.get("cust", "cus_0Ext00")
            return next(c for c in CUSTOMERS if c["id"] == wanted)
        lang, tiers = opts.get("lang", "en"), opts.get("t", "fpbe")
        pool, weights = [], []
        for c in CUSTOMERS:
            if TIER_LETTER[c["tier"]] not in tiers or c["id"] in PINNED_ONLY:
                continue
            if lang != "en" and c["lang"] != lang:
                continue
            w = TIER_WEIGHT[c["tier"]] * (0.35 if lang == "en" and c["lang"] != "en" else 1.0)
            w *= 1.0 / (1 + 0.4 * len(self.seen.get(c["id"], [])))  # spread tickets over customers
            pool.append(c)
            weights.append(w)
        return self.rng.choices(pool, weights)[0]

    def pick_date(self, cust_id, opts) -> datetime:
        if "at" in opts:
            return datetime.fromisoformat(opts["at"].replace("Z", "+00:00"))
        prev = self.seen.get(cust_id)
        if prev and self.rng.random() < 0.45:  # repeat contacts cluster within a few weeks
            base = self.rng.choice(prev) + timedelta(days=self.rng.choice([-1, 1]) * self.rng.randint(1, 21))
        else:
            base = START + timedelta(days=self.rng.randint(0, (END - START).days))
        while base.weekday() >= 5 and self.rng.random() < 0.7:
            base += timedelta(days=1)
        hour = self.rng.choice([6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 11, 12, 13, 13, 14, 14, 15, 15, 16, 17, 18, 20, 22])
        d = base.replace(hour=hour, minute=self.rng.randint(0, 59))
        if d < START + timedelta(hours=6):
            d = START + timedelta(
                days=self.rng.randint(0, 3), hours=self.rng.randint(7, 16), minutes=self.rng.randint(0, 59)
            )
        while d > END - timedelta(days=2):
            d -= timedelta(days=self.rng.randint(3, 10))
        return d

    def wrap_body(self, body, channel, lang, contact, cust, opts):
        r = self.rng
        if opts.get("raw") == "1" or channel == "chat":
            return body
        if channel == "api":
            return (
                f"{body}\n\n--\nSubmitted via {cust['name']} service portal (Flowbase Support API) · "
                f"requester: {contact['email']}"
            )
        if channel == "web":
            return body if r.random() < 0.55 else f"{body}\n\n{r.choice(CLOSE[lang])}\n{contact['first']}"
        greeted = body.split(None, 1)[0].rstrip(",") in GREETING_WORDS
        parts = [body] if greeted else [r.choice(GREET[lang]), body]
        if cust["id"] == EXTERNAL:
            parts.append(f"{r.choice(CLOSE[lang])}\n{contact['full']}")
        elif r.random() < 0.4:
            parts.append(
                f"{r.choice(CLOSE[lang])}\n\n-- \n{contact['full']}\n{contact['title']} | {cust['name']}\n"
                f"{contact['phone']}"
            )
        else:
            parts.append(f"{r.choice(CLOSE[lang])}\n{contact['first']}")
        return "\n\n".join(parts)

    def wrap_reply(self, reply, channel, lang, contact, agent, followup=False):
        r = self.rng
        if reply.split(None, 1)[0].rstrip(",") in GREETING_WORDS:
            return reply
        hi = r.choice([h for h in REPLY_HI[lang] if not (followup and "touch" in h)]).format(n=contact["first"])
        if channel == "chat":
            return f"{hi} {reply}" if r.random() < 0.5 else reply
        roll = r.random()
        if roll < 0.55:
            return f"{hi}\n\n{reply}\n\n{r.choice(REPLY_BYE[lang]).format(a=agent)}"
        if roll < 0.8:
            return (
                f"{hi}\n\n{reply}\n\n"
                + {
                    "en": "Flowbase Support",
                    "de": "Ihr Flowbase Support",
                    "fr": "L'équipe Support Flowbase",
                    "es": "Soporte de Flowbase",
                }[lang]
            )
        return reply

    def fill(self, text, contact, cust):
        return (
            text.replace("{first}", contact["first"]).replace("{company}", cust["name"]).replace("{ws}", cust["slug"])
        )

    def build(self, src):
        r, opts = self.rng, src["opts"]
        lang = opts.get("lang", "en")
        cust = self.pick_customer(opts)
        contact = r.choice(contacts_for(cust))
        if cust["id"] == EXTERNAL:
            contact = random_contact(r, lang, "mail.example")
        if "who" in opts:
            contact = contacts_for(cust)[int(opts["who"])]
        created = self.pick_date(cust["id"], opts)
        if src["follow"] and "at" not in opts:
            created = min(created, END - timedelta(days=8))
        self.seen.setdefault(cust["id"], []).append(created)
        channel = (
            opts.get("ch")
            or r.choices(["email", "web", "chat", "api"], [5, 4, 1 if len(src["body"]) > 400 else 3, 1])[0]
        )
        agent = r.choice(AGENTS[lang])
        agent = opts.get("agent", agent)
        body = self.wrap_body(self.fill(src["body"], contact, cust), channel, lang, contact, cust, opts)
        reply = self.wrap_reply(self.fill(src["reply"], contact, cust), channel, lang, contact, agent)
        out = [
            self.record(
                src,
                cust,
                created,
                channel,
                src["subject"],
                body,
                reply,
                src["priority"],
                src["sentiment"],
                contact,
            )
        ]
        last_reply, last_at = reply, created
        for f in src["follow"]:
            at = (
                datetime.fromisoformat(f["at"].replace("Z", "+00:00"))
                if "at" in f
                else last_at + timedelta(days=r.randint(1, 5), hours=r.randint(1, 7), minutes=r.randint(0, 50))
            )
            self.seen[cust["id"]].append(at)
            quoted = "\n".join("> " + ln if ln else ">" for ln in last_reply.splitlines())
            fbody = self.fill(f["body"], contact, cust)
            fbody = (
                f"{fbody}\n\n{r.choice(CLOSE[lang])}\n{contact['first']}\n\n"
                f"{WROTE[lang].format(d=pretty_date(last_at + timedelta(hours=2)), a=agent)}\n{quoted}"
            )
            freply = self.wrap_reply(self.fill(f["reply"], contact, cust), "email", lang, contact, agent, followup=True)
            subj = src["subject"] if src["subject"].lower().startswith("re:") else "Re: " + src["subject"]
            out.append(self.record(src, cust, at, "email", subj, fbody, freply, f["priority"], f["sentiment"], contact))
            last_reply, last_at = freply, at
        return out

    @staticmethod
    def record(src, cust, created, channel, subject, body, reply, priority, sentiment, contact):
        return {
            "id": None,
            "tenant": "default",
            "subject": subject.replace("{company}", cust["name"]),
            "body": body,
            "created_at": iso(created),
            "channel": channel,
            "customer": {"id": cust["id"], "name": cust["name"], "tier": cust["tier"], "mrr": cust["mrr"]},
            "queue": QUEUES[src["category"]],
            "category": src["category"],
            "priority": priority,
            "type": src["type"],
            "sentiment": sentiment,
            "tags": src["tags"],
            "reply": reply,
        }


def parse_incoming(path):
    out = []
    for block in re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        header, rest = block.split("\n", 1)
        cust_id, channel, created = header.split()
        subject, body = (s.strip() for s in rest.rstrip().split("\n---\n", 1))
        cust = next(c for c in CUSTOMERS if c["id"] == cust_id)
        out.append(
            {
                "id": None,
                "tenant": "default",
                "subject": subject,
                "body": body,
                "created_at": created,
                "channel": channel,
                "customer": {
                    "id": cust["id"],
                    "name": cust["name"],
                    "tier": cust["tier"],
                    "mrr": cust["mrr"],
                },
            }
        )
    return out


def main():
    rng = random.Random(7)
    builder = Builder(rng)
    sources = parse_sources(sorted((HERE / "sources").glob("history_*.txt")))
    rows = [row for src in sources for row in builder.build(src)]
    rows.sort(key=lambda t: (t["created_at"], t["customer"]["id"], t["subject"]))
    for i, row in enumerate(rows):
        row["id"] = f"FB-{10001 + i}"
    with open(HERE / "history.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    incoming = sorted(parse_incoming(HERE / "sources" / "incoming.txt"), key=lambda t: t["created_at"])
    with open(HERE / "incoming.jsonl", "w", encoding="utf-8") as fh:
        for i, row in enumerate(incoming):
            row["id"] = f"FB-{20001 + i}"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"history: {len(rows)} tickets, incoming: {len(incoming)} tickets")


if __name__ == "__main__":
    main()
