"""Fictional Flowbase customers, support agents and the category → queue map used by generate.py."""

from __future__ import annotations

import random
import re

# (id, name, tier, mrr in USD, language of most of their tickets)
_RAW = [
    # enterprise
    ("cus_7Hk2Qa", "Northwind Freight", "enterprise", 18500, "en"),
    ("cus_3Lp9Xe", "Halvorsen Maritime AS", "enterprise", 22400, "en"),
    ("cus_9Ty4Mb", "Brightline Health", "enterprise", 31000, "en"),
    ("cus_2Vc8Rn", "Kestrel Aerospace", "enterprise", 14200, "en"),
    ("cus_5Qw1Dz", "Meridian Bank Group", "enterprise", 39500, "en"),
    ("cus_8Jd6Fs", "Oakridge University", "enterprise", 6200, "en"),
    ("cus_4Nm3Gk", "Stadtwerke Rheinfeld GmbH", "enterprise", 9800, "de"),
    ("cus_6Rb7Lp", "Groupe Valmont", "enterprise", 12600, "fr"),
    ("cus_1Xs5Hu", "Telvia Comunicaciones", "enterprise", 8700, "es"),
    ("cus_0Ke4Wt", "Pinecrest Media", "enterprise", 4800, "en"),
    ("cus_7Za2Ux", "Arcadia Retail Group", "enterprise", 16300, "en"),
    ("cus_3Gh8Ye", "Solano Biotech", "enterprise", 7400, "en"),
    # business
    ("cus_5Mt1Rc", "Copperleaf Studio", "business", 640, "en"),
    ("cus_2Bf9Kd", "Lumen Analytics", "business", 1450, "en"),
    ("cus_8Pw3Nx", "Harbor & Finch Legal", "business", 980, "en"),
    ("cus_4Yc6Tq", "Quayside Architects", "business", 520, "en"),
    ("cus_9Ds2Jm", "Vantage Robotics", "business", 2750, "en"),
    ("cus_1Lr7Ev", "Greenfield Cooperative", "business", 410, "en"),
    ("cus_6Hn4Cb", "Atlas Field Services", "business", 1890, "en"),
    ("cus_3Ux8Wp", "Bluebird Travel", "business", 760, "en"),
    ("cus_7Ge5Sa", "Fernhill Schools Trust", "business", 350, "en"),
    ("cus_0Tq9Vd", "Nimbus Games", "business", 2100, "en"),
    ("cus_5Ka3Oy", "Redwood Dental Partners", "business", 880, "en"),
    ("cus_2Jx6Ml", "Silverline Consulting", "business", 1320, "en"),
    ("cus_8Wo1Pf", "Kanto Foods Europe", "business", 1100, "en"),
    ("cus_4Ei7Rz", "Müller & Söhne Maschinenbau", "business", 1650, "de"),
    ("cus_9Sv2Qh", "Agence Lumière", "business", 690, "fr"),
    ("cus_1Fp8Td", "Estudio Albatros", "business", 540, "es"),
    ("cus_6Cn5Gu", "Drift Logistics", "business", 2400, "en"),
    ("cus_3Wr4Hb", "Evergreen Nonprofit Alliance", "business", 320, "en"),
    ("cus_7Mk9Ln", "Pixelworks Agency", "business", 1050, "en"),
    ("cus_0Ah3Xc", "Brandt Elektrotechnik GmbH", "business", 870, "de"),
    # pro
    ("cus_5Zb8Kw", "Tallow & Wick Candles", "pro", 48, "en"),
    ("cus_2Nd4Vs", "Orbit Dev Collective", "pro", 180, "en"),
    ("cus_8Qe7Ct", "Hollis Photography", "pro", 40, "en"),
    ("cus_4Rm1Yb", "Sundial Yoga", "pro", 64, "en"),
    ("cus_9Lf6Pa", "Crescent Bookkeeping", "pro", 120, "en"),
    ("cus_1Ov3Gd", "Maple Street Bakery", "pro", 40, "en"),
    ("cus_6Tu9Hm", "Loop Marketing", "pro", 260, "en"),
    ("cus_3Ky2Ej", "Arrowhead Events", "pro", 144, "en"),
    ("cus_7Bw5Fn", "Fjord Design Studio", "pro", 96, "en"),
    ("cus_0Px8Ir", "Quillon Translations", "pro", 80, "en"),
    ("cus_5Hg1Zs", "Redline Motorsport Club", "pro", 72, "en"),
    ("cus_2Ca6Wq", "Tidewater Surveys", "pro", 216, "en"),
    ("cus_8Vi4Ku", "Atelier Moreau", "pro", 88, "fr"),
    ("cus_4Sj9Ob", "Weber Steuerberatung", "pro", 112, "de"),
    ("cus_9Fy7Mc", "Clínica Sonrisa", "pro", 60, "es"),
    ("cus_1Dq2Nt", "Beacon Tutoring", "pro", 56, "en"),
    ("cus_6Xn8Ra", "Glasshouse Coffee", "pro", 40, "en"),
    ("cus_3Ep5Lw", "Studio Kinetik", "pro", 140, "de"),
    # free
    ("cus_7Ru3Dx", "Ortega Freelance", "free", 0, "en"),
    ("cus_0Wm6Fb", "Hackspace Leeds", "free", 0, "en"),
    ("cus_5Ib9Sc", "Two Oaks PTA", "free", 0, "en"),
    ("cus_2Kh1Tv", "Nova Student Robotics", "free", 0, "en"),
    ("cus_8Ly4Gm", "Paper Crane Writers", "free", 0, "en"),
    ("cus_4Oa7Hq", "Little Fern Daycare", "free", 0, "en"),
    ("cus_9Ct2Yd", "Side Quest Games", "free", 0, "en"),
    ("cus_1Gz5Je", "Coastal Cleanups", "free", 0, "en"),
    ("cus_6Nf8Uk", "Les Petits Ateliers", "free", 0, "fr"),
    ("cus_3Dv1Pz", "Ana Lucía Ruiz Diseño", "free", 0, "es"),
    # requests from people without a Flowbase account (law enforcement, lawyers, card holders, ...)
    ("cus_0Ext00", "Unknown sender (no account)", "free", 0, "en"),
    # only in incoming.jsonl: an outside security researcher with a free account
    ("cus_4Tr8Qm", "Kovač Security Research", "free", 0, "en"),
]

CUSTOMERS = [
    {
        "id": i,
        "name": n,
        "tier": t,
        "mrr": m,
        "lang": lang,
        "slug": re.sub(r"[^a-z0-9]+", "-", n.lower().replace("ü", "u").replace("í", "i").replace("è", "e")).strip("-"),
    }
    for i, n, t, m, lang in _RAW
]

# never picked at random: only tickets that name them with cust= (or incoming.jsonl) use them
PINNED_ONLY = {"cus_4Tr8Qm", "cus_0Ext00", "cus_3Lp9Xe"}

AGENTS = {
    "en": ["Priya", "Tom", "Aisha", "Marco", "Hannah", "Sam", "Grace", "Daniel"],
    "de": ["Lena", "Jonas"],
    "fr": ["Camille", "Julien"],
    "es": ["Diego", "Lucía"],
}

_NAMES = {
    "en": (
        [
            "Sarah",
            "James",
            "Olivia",
            "Mike",
            "Rachel",
            "Dev",
            "Emily",
            "Chris",
            "Nadia",
            "Ben",
            "Kate",
            "Luis",
            "Megan",
            "Tariq",
            "Hiroshi",
            "Anna",
            "Kwame",
            "Laura",
            "Ravi",
            "Jess",
            "Owen",
            "Zoe",
            "Ingrid",
            "Mateo",
        ],
        [
            "Collins",
            "Patel",
            "Nguyen",
            "Brennan",
            "Okoye",
            "Larsen",
            "Foster",
            "Kowalski",
            "Reyes",
            "Murphy",
            "Chen",
            "Haddad",
            "Sato",
            "Lindqvist",
            "Mensah",
            "Walsh",
            "Iyer",
            "Dalton",
            "Novak",
            "Grant",
        ],
    ),
    "de": (
        ["Katrin", "Stefan", "Jürgen", "Miriam", "Tobias", "Anja", "Felix"],
        ["Hoffmann", "Schulz", "Becker", "Wagner", "Krüger", "Neumann", "Vogel"],
    ),
    "fr": (
        ["Claire", "Julien", "Sophie", "Antoine", "Élodie", "Mathieu"],
        ["Lefèvre", "Moreau", "Girard", "Fontaine", "Rousseau", "Dubois"],
    ),
    "es": (
        ["Javier", "Lucía", "Carmen", "Andrés", "Marta", "Pablo"],
        ["García", "Martín", "Navarro", "Ortega", "Romero", "Castillo"],
    ),
}
_TITLES = [
    "Operations Manager",
    "IT Administrator",
    "Head of PMO",
    "Office Manager",
    "CTO",
    "Founder",
    "Project Coordinator",
    "Finance Lead",
    "Engineering Manager",
    "Systems Engineer",
    "COO",
    "Delivery Lead",
    "Marketing Director",
    "Workspace Admin",
    "Accounts Payable",
]


def _ascii(s: str) -> str:
    for a, b in (
        ("ü", "u"),
        ("ö", "o"),
        ("ä", "a"),
        ("é", "e"),
        ("è", "e"),
        ("í", "i"),
        ("ñ", "n"),
        ("É", "E"),
    ):
        s = s.replace(a, b)
    return s


_FIXED_CONTACTS = {  # the escalating enterprise account in incoming.jsonl
    "cus_3Lp9Xe": [
        {
            "first": "Ingrid",
            "full": "Ingrid Larsen",
            "title": "Head of PMO",
            "email": "ingrid.larsen@halvorsen-maritime.example",
            "phone": "+47 22 55 01 83",
        },
        {
            "first": "Erik",
            "full": "Erik Dahl",
            "title": "IT Administrator",
            "email": "erik.dahl@halvorsen-maritime.example",
            "phone": "+47 22 55 01 40",
        },
        {
            "first": "Sofie",
            "full": "Sofie Berg",
            "title": "Finance Lead",
            "email": "sofie.berg@halvorsen-maritime.example",
            "phone": "+47 22 55 01 12",
        },
    ],
}


def random_contact(rng: random.Random, lang: str, domain: str) -> dict:
    firsts, lasts = _NAMES[lang]
    first, last = rng.choice(firsts), rng.choice(lasts)
    return {
        "first": first,
        "full": f"{first} {last}",
        "title": rng.choice(_TITLES),
        "email": f"{_ascii(first).lower()}.{_ascii(last).lower()}@{domain}",
        "phone": f"+{rng.choice(['1 (555) ', '44 20 7946 ', '49 30 5557', '33 1 5550 '])}{rng.randint(1000, 9999)}",
    }


def contacts_for(cust: dict) -> list[dict]:
    """One to three stable contacts per customer (derived from the customer id, not the global rng)."""
    if cust["id"] in _FIXED_CONTACTS:
        return _FIXED_CONTACTS[cust["id"]]
    rng = random.Random(cust["id"])
    domain = cust["slug"].replace("-gmbh", "").replace("-as", "") + ".example"
    return [
        random_contact(rng, cust["lang"], domain) for _ in range(1 if cust["tier"] == "free" else rng.randint(1, 3))
    ]


QUEUES = {
    "password_reset": "account_access",
    "sso_login": "account_access",
    "two_factor_lockout": "account_access",
    "user_management": "account_access",
    "account_security": "account_access",
    "invoice_request": "billing",
    "refund_request": "billing",
    "plan_change": "billing",
    "payment_failed": "billing",
    "bug_report": "technical_support",
    "performance": "technical_support",
    "data_import": "technical_support",
    "data_export": "technical_support",
    "mobile_sync": "technical_support",
    "notifications": "technical_support",
    "slack_integration": "integrations",
    "google_workspace": "integrations",
    "microsoft_365": "integrations",
    "jira_sync": "integrations",
    "github_integration": "integrations",
    "api_rate_limit": "api_platform",
    "webhook_failures": "api_platform",
    "api_auth": "api_platform",
    "outage": "site_reliability",
    "degraded_service": "site_reliability",
    "vulnerability_report": "security",
    "suspicious_activity": "security",
    "gdpr_request": "privacy_legal",
    "data_deletion": "privacy_legal",
    "legal_request": "privacy_legal",
    "cancellation": "customer_success",
    "feature_request": "customer_success",
    "onboarding": "customer_success",
}
