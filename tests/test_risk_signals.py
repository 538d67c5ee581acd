"""Churn signals: the phrase table (agent/risk_signals.py) per kind and language, look-alikes that must
not fire, the churn rules that combine signals with the account, and the issue's example end to end
(issue 10, item 5: "Fix it today or we cancel and go to Asana" came out churn medium, a KB paste)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.classify import finalize
from agent.graph import triage
from agent.risk_signals import CHURN_PHRASES
from agent.schemas import Action, DecisionReason, FieldPrediction
from agent.signals import CHURN_THREATS, ChurnFacts, Signal, detect_signals, rule_churn_risk
from config.components import Components
from knowledge.schemas import Ticket

C, K, N, R, L = (
    Signal.CANCELLATION,
    Signal.COMPETITOR,
    Signal.NON_RENEWAL,
    Signal.REFUND_AND_LEAVE,
    Signal.LEGAL_THREAT,
)

#: (language, text, the churn signals it must raise). Real phrasing, one row per kind and language.
POSITIVES: list[tuple[str, str, set[Signal]]] = [
    ("en", "Fix it today or we cancel and go to Asana", {C, K}),
    ("en", "We will cancel our subscription at the end of the month", {C}),
    ("en", "Please close our account.", {C}),
    ("en", "We are switching to Basecamp next month.", {K}),
    ("en", "Honestly, we're looking at alternatives.", {K}),
    ("en", "Sort this out or we'll move to Zenhub.", {K}),
    ("en", "We won't renew in March.", {N}),
    ("en", "We're not renewing the contract.", {N}),
    ("en", "I want my money back.", {R}),
    ("en", "Refund us now or we walk.", {R}),
    ("en", "I will file a chargeback with my bank.", {R}),
    ("en", "We will take legal action over this.", {L}),
    ("en", "I'm contacting my lawyer today.", {L}),
    ("de", "Wenn das so bleibt, kündigen wir zum Monatsende.", {C}),
    ("de", "Wir werden unseren Vertrag zum 31. kündigen.", {C}),
    ("de", "Dann wechseln wir zu Asana.", {K}),
    ("de", "Wir gehen zur Konkurrenz.", {K}),
    ("de", "Wir werden den Vertrag nicht verlängern.", {N}),
    ("de", "Wir wollen unser Geld zurück.", {R}),
    ("de", "Wir werden rechtliche Schritte einleiten.", {L}),
    ("fr", "Nous allons résilier notre contrat.", {C}),
    ("fr", "Je vais annuler mon abonnement.", {C}),
    ("fr", "Nous allons passer chez un concurrent.", {K}),
    ("fr", "On va passer à Trello.", {K}),
    ("fr", "Nous ne renouvellerons pas notre abonnement.", {N}),
    ("fr", "Remboursez-nous ou nous partons.", {R}),
    ("fr", "Nous allons engager des poursuites judiciaires.", {L}),
    ("es", "Vamos a cancelar la suscripción.", {C}),
    ("es", "Queremos darnos de baja.", {C}),
    ("es", "Nos vamos a la competencia.", {K}),
    ("es", "Vamos a cambiarnos a ClickUp.", {K}),
    ("es", "No vamos a renovar el contrato.", {N}),
    ("es", "Queremos un reembolso o nos vamos.", {R}),
    ("es", "Emprenderemos acciones legales.", {L}),
    ("pt", "Queremos cancelar a assinatura.", {C}),
    ("pt", "Se não resolverem, vamos cancelar.", {C}),
    ("pt", "Vamos migrar para o Basecamp.", {K}),
    ("pt", "Vamos para a concorrência.", {K}),
    ("pt", "Não vamos renovar o contrato.", {N}),
    ("pt", "Queremos o nosso dinheiro de volta.", {R}),
    ("pt", "Vamos entrar com uma ação judicial.", {L}),
    ("it", "Vogliamo disdire l'abbonamento.", {C}),
    ("it", "Passeremo a Basecamp.", {K}),
    ("it", "Andiamo alla concorrenza.", {K}),
    ("it", "Non rinnoveremo il contratto.", {N}),
    ("it", "Rivogliamo i soldi indietro.", {R}),
    ("it", "Intraprenderemo azioni legali.", {L}),
    ("nl", "We gaan ons abonnement opzeggen.", {C}),
    ("nl", "We stappen over naar Trello.", {K}),
    ("nl", "We gaan overstappen naar een concurrent.", {K}),
    ("nl", "We zullen het contract niet verlengen.", {N}),
    ("nl", "We willen ons geld terug.", {R}),
    ("nl", "We nemen juridische stappen.", {L}),
    ("sv", "Vi vill säga upp vårt abonnemang.", {C}),
    ("da", "Vi vil opsige vores abonnement.", {C}),
    ("no", "Vi vil si opp abonnementet.", {C}),
    ("pl", "Chcemy anulować subskrypcję.", {C}),
    ("cs", "Chceme zrušit předplatné.", {C}),
    ("fi", "Haluamme irtisanoa sopimuksen.", {C}),
    ("tr", "Aboneliği iptal etmek istiyoruz.", {C}),
    ("ru", "Мы хотим отменить подписку.", {C}),
    ("ja", "来月で解約します。", {C}),
    ("zh", "我们要取消订阅。", {C}),
    ("ko", "다음 달에 구독 취소하겠습니다.", {C}),
]

#: Look-alikes: ordinary support talk that must raise no churn signal at all.
NEGATIVES: list[tuple[str, str]] = [
    ("en", "How do I cancel a single task?"),
    ("en", "Cancel my meeting invite for Friday"),
    ("en", "Refund policy question"),
    ("en", "Can I get a refund for the unused seats?"),
    ("en", "If we cancel a task, are the assignees notified?"),
    ("en", "Go to Settings and switch to the Board view."),
    ("en", "I switched to Firefox and the bug persists."),
    ("en", "We will switch to the Pro plan next month."),
    ("en", "We are migrating to Azure AD for logins, how do we set up SSO?"),
    ("en", "Then I move it to Done and it jumps back."),
    ("en", "We are moving to a new office next month, please update the address."),
    ("en", "Our lawyer needs the audit logs for a subpoena."),
    ("en", "How do I renew my subscription?"),
    ("en", "Is there an alternative way to export?"),
    ("de", "Wie kann ich eine Aufgabe abbrechen?"),
    ("de", "Ich kann den Link nicht verlängern."),
    ("de", "Gehen Sie auf Einstellungen und wechseln Sie auf Dunkelmodus."),
    ("fr", "Comment annuler une tâche ?"),
    ("fr", "Je suis passé à Windows 11 hier."),
    ("es", "¿Cómo cancelo una reunión?"),
    ("es", "Vamos a pasar a Producción mañana."),
    ("pt", "Como cancelar uma tarefa?"),
    ("it", "Come annullare un'attività?"),
    ("nl", "Hoe annuleer ik een taak?"),
]

REQUIRED_LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl")


@pytest.mark.parametrize(("language", "text", "expected"), POSITIVES)
def test_threats_to_leave_are_signalled(language: str, text: str, expected: set[Signal]) -> None:
    assert set(detect_signals(text)) & CHURN_THREATS == expected


@pytest.mark.parametrize(("language", "text"), NEGATIVES)
def test_look_alikes_raise_no_churn_signal(language: str, text: str) -> None:
    assert not set(detect_signals(text)) & CHURN_THREATS


def test_every_kind_is_tested_in_every_required_language() -> None:
    tested = {(signal, language) for language, _, signals in POSITIVES for signal in signals}
    for kind in CHURN_PHRASES:
        for language in REQUIRED_LANGUAGES:
            assert language in CHURN_PHRASES[kind], (kind, language)
            assert (Signal(kind), language) in tested, (kind, language)


def test_every_table_language_has_a_positive_and_no_phrase_has_an_open_wildcard() -> None:
    tested = {language for language, _, _ in POSITIVES}
    for kind, by_language in CHURN_PHRASES.items():
        assert set(by_language) <= tested, kind
        for phrases in by_language.values():
            assert not any(w in p for p in phrases for w in (".*", ".+", "[^")), phrases


def test_a_legal_threat_escalates_as_legal() -> None:
    from agent.policy import PolicyConfig, PolicyInput, decide

    decision = decide(PolicyInput(priority="P3", signals=[Signal.LEGAL_THREAT]), PolicyConfig())
    assert decision.action == Action.ESCALATE and decision.reason == DecisionReason.LEGAL


@pytest.mark.parametrize(
    ("facts", "risk"),
    [
        (ChurnFacts(frozenset({Signal.COMPETITOR}), "neutral"), "high"),
        (ChurnFacts(frozenset({Signal.NON_RENEWAL}), "positive"), "high"),
        (ChurnFacts(frozenset(), "very_negative", recent_tickets=1), "high"),
        # The issue's account without the explicit threat: third contact, unhappy, high value.
        (ChurnFacts(frozenset(), "negative", recent_tickets=2, high_value=True), "high"),
        (ChurnFacts(frozenset(), "negative", recent_tickets=2, high_value=False), "medium"),
        (ChurnFacts(frozenset(), "negative", recent_tickets=1, high_value=True), "medium"),
        (ChurnFacts(frozenset(), "neutral", recent_tickets=2, high_value=True), "medium"),
        (ChurnFacts(frozenset({Signal.OUTAGE}), "neutral", recent_tickets=1), "medium"),
        (ChurnFacts(frozenset({Signal.OUTAGE}), "neutral"), "low"),
        (ChurnFacts(frozenset(), "neutral", recent_tickets=5), "low"),
        (ChurnFacts(frozenset({Signal.LEGAL}), "neutral"), "low"),  # a GDPR request is no threat to leave
    ],
)
def test_churn_rules(facts: ChurnFacts, risk: str) -> None:
    assert rule_churn_risk(facts)[0] == risk


def test_a_threat_lifts_a_model_churn_prediction_to_high() -> None:
    classification = finalize(
        local={"churn_risk": FieldPrediction.of("low", 0.9, "local")},
        llm={},
        model_trained=True,
        taxonomy=None,
        text="Fix it or we cancel.",
        language=("en", 1.0, "rule"),
        signals=[Signal.CANCELLATION],
    )
    assert classification.churn_risk.value == "high" and classification.churn_risk.source == "rule"
    assert any("churn risk raised from low to high" in note for note in classification.review_notes)


def test_the_issue_example_escalates_as_churn_risk_on_a_high_value_account(trained_workspace: Components) -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    customer = {"id": "cus_team", "name": "Northwind", "tier": "business", "mrr": 2750}
    earlier = [
        Ticket.model_validate(
            {
                "id": f"nw-{i}",
                "subject": "Invoice shows the wrong VAT number",
                "body": "Our invoice still shows the old VAT number, please send a corrected invoice.",
                "created_at": now - timedelta(days=days),
                "customer": customer,
            }
        )
        for i, days in enumerate((3, 12))
    ]
    trained_workspace.ingest.tickets(earlier)
    ticket = Ticket.model_validate(
        {
            "id": "nw-3",
            "subject": "Invoice still has the wrong VAT number",
            "body": "Third time I write about the VAT number on our invoice. Fix it today or we cancel and go to Asana",
            "created_at": now,
            "customer": customer,
        }
    )
    result = triage(ticket, trained_workspace.context())
    assert result.classification.churn_risk.value == "high"
    assert result.decision.action == Action.ESCALATE
    assert result.decision.reason == DecisionReason.CHURN_RISK_HIGH_VALUE
    assert result.escalation is not None and "2 ticket(s) in the last 30 days" in result.escalation.context_for_agent
