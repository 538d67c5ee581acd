# ruff: noqa: E501 - one ticket per line reads best
"""Customer tickets in German, Spanish, French and Portuguese, each paired with the English article of the
sample company's knowledge base (caseworker/sample_data/kb) that answers it.

How they were made: for twelve articles, the author of this file read the article and wrote, in each of
the four languages, the message a customer with that problem would send: the symptom in their own words
(not a translation of the article's title), with the kind of detail customers give (device, error code,
plan, dates). No machine translation, no text from any dataset. Used by
tests/test_crosslingual_retrieval.py and benchmarks/crosslingual_retrieval.py.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from knowledge.kb_importer import read_kb
from knowledge.schemas import Ticket
from knowledge.text import ticket_model_text
from tools.retrieval import Retriever

SAMPLE_KB = Path(__file__).resolve().parent.parent / "caseworker" / "sample_data" / "kb"

#: (article id, language, subject, body)
CROSSLINGUAL_TICKETS: list[tuple[str, str, str, str]] = [
    # KB-0001 Reset your password
    (
        "KB-0001",
        "de",
        "Passwort vergessen",
        "Ich habe mein Passwort vergessen und die E-Mail zum Zurücksetzen kommt nicht an. Was kann ich tun?",
    ),
    (
        "KB-0001",
        "es",
        "Olvidé mi contraseña",
        "No recuerdo mi contraseña y no me llega el correo para restablecerla. ¿Cómo puedo entrar?",
    ),
    (
        "KB-0001",
        "fr",
        "Mot de passe oublié",
        "J'ai oublié mon mot de passe et je ne reçois pas l'e-mail de réinitialisation. Comment me reconnecter ?",
    ),
    (
        "KB-0001",
        "pt",
        "Esqueci a minha senha",
        "Esqueci a senha e o e-mail para redefinir não chega. Como consigo entrar de novo?",
    ),
    # KB-0003 Locked out of two-factor authentication
    (
        "KB-0003",
        "de",
        "Handy verloren, 2FA",
        "Mein Handy wurde gestohlen und jetzt kann ich den Bestätigungscode für die Zwei-Faktor-Anmeldung nicht mehr eingeben. Backup-Codes habe ich keine.",
    ),
    (
        "KB-0003",
        "es",
        "Perdí el móvil con la autenticación en dos pasos",
        "Cambié de teléfono y ya no tengo la app de códigos de verificación. No puedo iniciar sesión y no guardé los códigos de respaldo.",
    ),
    (
        "KB-0003",
        "fr",
        "Bloqué par la double authentification",
        "J'ai perdu mon téléphone et je ne peux plus saisir le code de vérification en deux étapes. Je n'ai pas de codes de secours.",
    ),
    (
        "KB-0003",
        "pt",
        "Sem acesso por causa da autenticação de dois fatores",
        "Perdi o celular onde estava o aplicativo de códigos e não consigo fazer login. Não tenho os códigos de backup.",
    ),
    # KB-0009 Download invoices and receipts, and update billing details
    (
        "KB-0009",
        "de",
        "Rechnung herunterladen",
        "Wo finde ich die Rechnungen der letzten Monate als PDF? Unsere Buchhaltung braucht außerdem die USt-IdNr. auf der Rechnung.",
    ),
    (
        "KB-0009",
        "es",
        "Necesito las facturas",
        "¿Dónde puedo descargar las facturas en PDF de los últimos meses? También quiero añadir el NIF de la empresa.",
    ),
    (
        "KB-0009",
        "fr",
        "Télécharger nos factures",
        "Où puis-je télécharger les factures des derniers mois en PDF ? Notre comptable veut aussi notre numéro de TVA dessus.",
    ),
    (
        "KB-0009",
        "pt",
        "Baixar faturas",
        "Onde eu baixo as faturas em PDF dos últimos meses? Preciso também colocar o CNPJ e o endereço da empresa nos recibos.",
    ),
    # KB-0013 Refund policy
    (
        "KB-0013",
        "de",
        "Rückerstattung Jahresabo",
        "Wir haben das Jahresabo vor zwei Wochen verlängert, brauchen es aber nicht mehr. Bekommen wir das Geld zurück?",
    ),
    (
        "KB-0013",
        "es",
        "Reembolso del plan anual",
        "Se renovó el plan anual hace diez días y ya no lo vamos a usar. ¿Me podéis devolver el dinero?",
    ),
    (
        "KB-0013",
        "fr",
        "Demande de remboursement",
        "Notre abonnement annuel a été renouvelé il y a deux semaines sans que nous le voulions. Pouvez-vous nous rembourser ?",
    ),
    (
        "KB-0013",
        "pt",
        "Quero o reembolso",
        "A assinatura anual foi renovada semana passada e não vamos mais usar. Vocês devolvem o valor pago?",
    ),
    # KB-0012 Failed payments, card updates and read-only workspaces
    (
        "KB-0012",
        "de",
        "Zahlung fehlgeschlagen, Workspace schreibgeschützt",
        "Unsere Kreditkarte ist abgelaufen, die Zahlung ist fehlgeschlagen und jetzt können wir im Workspace nichts mehr bearbeiten. Wie hinterlegen wir eine neue Karte?",
    ),
    (
        "KB-0012",
        "es",
        "Pago rechazado",
        "El cobro de la tarjeta falló y ahora el espacio de trabajo está en solo lectura. ¿Cómo cambio la tarjeta para recuperar el acceso?",
    ),
    (
        "KB-0012",
        "fr",
        "Paiement refusé",
        "Le prélèvement sur notre carte a échoué et l'espace de travail est passé en lecture seule. Comment mettre à jour la carte bancaire ?",
    ),
    (
        "KB-0012",
        "pt",
        "Pagamento recusado",
        "O cartão foi recusado na renovação e agora o workspace está só para leitura. Como atualizo o cartão de crédito?",
    ),
    # KB-0014 Cancel your subscription
    ("KB-0014", "de", "Abo kündigen", "Wie kann ich unser Abonnement kündigen? Wir wollen zum Monatsende aufhören."),
    (
        "KB-0014",
        "es",
        "Cancelar la suscripción",
        "Quiero dar de baja nuestra suscripción a final de mes. ¿Dónde se cancela?",
    ),
    (
        "KB-0014",
        "fr",
        "Résilier l'abonnement",
        "Comment résilier notre abonnement ? Nous voulons arrêter à la fin du mois.",
    ),
    (
        "KB-0014",
        "pt",
        "Cancelar assinatura",
        "Como faço para cancelar a nossa assinatura? Queremos parar no fim do mês.",
    ),
    # KB-0016 Export your data
    (
        "KB-0016",
        "de",
        "Daten exportieren",
        "Ich möchte alle Aufgaben eines Boards als Excel-Datei exportieren, am besten mit Kommentaren. Geht das?",
    ),
    (
        "KB-0016",
        "es",
        "Exportar datos a Excel",
        "¿Cómo exporto todas las tareas de un tablero a CSV o Excel? Queremos una copia de seguridad.",
    ),
    (
        "KB-0016",
        "fr",
        "Exporter nos données",
        "Je voudrais exporter toutes les tâches d'un tableau en CSV ou Excel, avec les commentaires si possible.",
    ),
    (
        "KB-0016",
        "pt",
        "Exportar dados",
        "Como exporto as tarefas de um quadro para Excel ou CSV? Precisamos de um backup completo.",
    ),
    # KB-0018 Mobile app sync and offline mode troubleshooting
    (
        "KB-0018",
        "de",
        "App synchronisiert nicht",
        "Auf meinem Android-Handy erscheinen Änderungen aus dem Browser nicht in der App, und oben ist ein roter Punkt an der Wolke.",
    ),
    (
        "KB-0018",
        "es",
        "La app del móvil no sincroniza",
        "En el iPhone los cambios que hago sin conexión no se suben y la app no muestra lo que hago en el ordenador.",
    ),
    (
        "KB-0018",
        "fr",
        "L'application mobile ne se synchronise pas",
        "Sur mon téléphone Android, les modifications faites hors ligne ne remontent pas et la tâche n'apparaît pas sur l'ordinateur.",
    ),
    (
        "KB-0018",
        "pt",
        "Aplicativo não sincroniza",
        "No celular as alterações feitas offline não aparecem no computador e tem um ponto vermelho na nuvem.",
    ),
    # KB-0019 Connect Slack and send board updates to channels
    (
        "KB-0019",
        "de",
        "Slack-Benachrichtigungen",
        "Wie verbinde ich unseren Slack-Workspace, damit Änderungen am Board in einem Kanal gepostet werden?",
    ),
    (
        "KB-0019",
        "es",
        "Integración con Slack",
        "Queremos que las actualizaciones del tablero se publiquen en un canal de Slack. ¿Cómo se conecta?",
    ),
    (
        "KB-0019",
        "fr",
        "Connecter Slack",
        "Comment connecter Slack pour que les mises à jour du tableau soient envoyées dans un canal ?",
    ),
    (
        "KB-0019",
        "pt",
        "Conectar ao Slack",
        "Como conecto o Slack para que as atualizações do quadro apareçam em um canal da equipe?",
    ),
    # KB-0024 API rate limits and how to handle 429 responses
    (
        "KB-0024",
        "de",
        "API gibt 429 zurück",
        "Unser Skript bekommt von der API ständig den Fehler 429 Too Many Requests. Wie viele Anfragen dürfen wir senden?",
    ),
    (
        "KB-0024",
        "es",
        "Error 429 en la API",
        "Nuestra integración recibe muchos errores 429 de la API cuando sincronizamos. ¿Cuál es el límite de peticiones?",
    ),
    (
        "KB-0024",
        "fr",
        "Erreurs 429 de l'API",
        "Notre script reçoit sans arrêt des erreurs 429 de l'API. Quelle est la limite de requêtes par minute ?",
    ),
    (
        "KB-0024",
        "pt",
        "API retornando 429",
        "Nossa integração recebe erro 429 da API o tempo todo. Qual é o limite de requisições?",
    ),
    # KB-0026 Webhooks: setup, retries, signatures and troubleshooting
    (
        "KB-0026",
        "de",
        "Webhook kommt nicht an",
        "Unser Webhook-Endpunkt bekommt keine Events mehr und im Einstellungsmenü steht, dass der Webhook deaktiviert wurde. Wie prüfen wir die Signatur?",
    ),
    (
        "KB-0026",
        "es",
        "Los webhooks no llegan",
        "Nuestro endpoint ya no recibe los eventos del webhook y aparece como desactivado. ¿Cómo funcionan los reintentos y la firma?",
    ),
    (
        "KB-0026",
        "fr",
        "Webhook désactivé",
        "Notre point de terminaison ne reçoit plus les événements webhook, il apparaît comme désactivé. Comment vérifier la signature ?",
    ),
    (
        "KB-0026",
        "pt",
        "Webhook parou de funcionar",
        "Nosso endpoint não recebe mais os eventos do webhook e ele aparece desativado. Como funcionam as novas tentativas e a assinatura?",
    ),
    # KB-0034 Suspicious activity or a compromised account
    (
        "KB-0034",
        "de",
        "Konto gehackt?",
        "Ich habe eine Anmeldung aus einem fremden Land bemerkt und jemand hat Aufgaben gelöscht. Ich glaube, mein Konto wurde gehackt.",
    ),
    (
        "KB-0034",
        "es",
        "Creo que me han hackeado la cuenta",
        "Veo un inicio de sesión desde otro país que no fui yo y alguien ha borrado tareas. ¿Qué hago?",
    ),
    (
        "KB-0034",
        "fr",
        "Compte piraté",
        "J'ai reçu une alerte de connexion depuis un autre pays et des tâches ont été supprimées. Je pense que mon compte a été piraté.",
    ),
    (
        "KB-0034",
        "pt",
        "Conta invadida",
        "Recebi um alerta de login de outro país que não fui eu e algumas tarefas foram apagadas. Acho que invadiram minha conta.",
    ),
]


def ingest_sample_kb(components: object) -> int:
    """The sample company's 39 articles into `components` (a config.components.Components)."""
    articles = read_kb(SAMPLE_KB).articles
    components.ingest.kb(articles)  # type: ignore[attr-defined]
    return len(articles)


def recall_at_k(components: object, k: int = 3) -> dict[str, float]:
    """Per language and overall ("all"): the share of tickets whose article is among the top k articles the
    triage retriever returns (best chunk per article, the ticket embedded exactly as prepare embeds it)."""
    retriever = Retriever(components.store, components.embedder)  # type: ignore[attr-defined]
    hits: dict[str, list[bool]] = defaultdict(list)
    for n, (article_id, language, subject, body) in enumerate(CROSSLINGUAL_TICKETS):
        ticket = Ticket(id=f"x{n}", subject=subject, body=body)
        found = retriever.retrieve(ticket_model_text(ticket), ticket.tenant, 0, k).kb
        hit = article_id in {h.article_id for h in found}
        hits[language].append(hit)
        hits["all"].append(hit)
    return {language: sum(v) / len(v) for language, v in hits.items()}
