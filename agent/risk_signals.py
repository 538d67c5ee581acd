"""Phrases that say a customer may leave, per signal kind and language: the table behind the churn
signals (agent/signals.py compiles it; tests/test_risk_signals.py keeps it honest, positives and
look-alikes that must not fire, per language).

Each phrase is a regular-expression fragment matched case-insensitively on whole words. Write it
as plain words where you can; the few notations:

- a space matches any run of whitespace;
- ` … ` (spaced) matches up to three words in between ("refund … or we leave");
- `<Name>` matches a capitalised product name that is not a plan, browser or screen of our own
  ("go to Asana", "switch to Basecamp"), so competitors need no fixed list;
- `(?=…)` / `(?!…)` guard a phrase's end ("we cancel" only before punctuation or "and/or/then").

No unbounded wildcard (`.*`, `\\w+ .*`) may appear in a phrase: every step reads text linear in
its length. ja, zh and ko phrases match without word boundaries (their words are not spaced).
"""

from __future__ import annotations

#: Ends a bare threat ("we cancel."): punctuation, the end, or a joining word, not an object ("we
#: cancel a task").
_END = r"(?=[ \t]*(?:[.,;:!?\n]|$|and\b|or\b|then\b|unless\b|if\b|et\b|y\b|e\b|en\b|und\b|oder\b))"
_KNOWN_COMPETITORS = r"(?:Asana|monday\.com|Trello|ClickUp|Jira|Notion|Basecamp|Wrike|Smartsheet|Airtable|Todoist)"
_MOVE = r"(?:switch|switching|move|moving|migrate|migrating)"
_WE_WILL = r"(?:we|I)(?:'ll| will| are going to|'re going to| am going to|'m going to| are|'re| am|'m)?"

#: {signal kind (agent.signals.Signal value): {language: phrases}}
CHURN_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "cancellation": {
        "en": (
            r"cancel+(?:ing)? (?:our|my) (?:subscription|account|plan|contract|membership|licen[cs]es?|workspace)",
            r"cancel+(?:ing)? (?:the|this) (?:subscription|contract|membership)",
            r"cancel+ation of (?:our|my|the) (?:subscription|account|plan|contract|membership)",
            rf"{_WE_WILL} cancel+(?:ing)?{_END}",
            r"terminate (?:our|my|the) (?:contract|subscription|account|agreement)",
            r"(?:close|closing|end|ending) (?:our|my) (?:account|subscription|contract|membership)",
        ),
        "de": (
            r"kündig(?:en|ung)",
            r"(?:Vertrag|Abo|Abonnement|Account|Konto|Zugang) … (?:kündigen|beenden)",
        ),
        "fr": (
            r"résili(?:er|ons|erons|ation)",
            r"annuler (?:notre|mon|l'|le|cet) ?(?:abonnement|contrat|compte)",
            rf"(?:nous|je) (?:allons |vais )?annuler{_END}",
            r"mettre fin à (?:notre|mon|l'|cet) ?(?:abonnement|contrat)",
        ),
        "es": (
            r"cancelar (?:nuestra|mi|la|el|nuestro) (?:suscripción|cuenta|contrato|plan)",
            rf"vamos a cancelar{_END}",
            r"(?:darnos|darme|nos damos|me doy) de baja",
            r"rescindir el contrato",
        ),
        "pt": (
            r"cancelar (?:a|o|nossa|minha|nosso|meu) (?:assinatura|conta|contrato|plano)",
            rf"vamos cancelar{_END}",
            r"rescindir o contrato",
            r"encerrar (?:a|nossa|minha) conta",
        ),
        "it": (
            r"disd(?:ire|iciamo|etta)",
            r"annullare (?:l'|il|il nostro|il mio) ?abbonamento",
            r"recedere dal contratto",
        ),
        "nl": (
            r"opzeg(?:gen|ging)",
            r"zeggen (?:we|wij|ik) … op",
        ),
        "sv": (r"säg(?:a|er) upp (?:vårt|vår|mitt|min|abonnemanget|avtalet)",),
        "da": (r"opsig(?:e|er) (?:vores|vor|mit|min|abonnementet|aftalen)",),
        "no": (r"si(?:er)? opp (?:abonnementet|avtalen|vårt|vår|mitt|min)",),
        "pl": (r"anulować subskrypcję", r"wypowi(?:edzieć|adamy) umowę", r"rezygnujemy z"),
        "cs": (r"zrušit předplatné", r"vypovědět smlouvu"),
        "fi": (r"irtisano\w*", r"peru(?:a|tamme) tilau\w*"),
        "tr": (r"aboneliği iptal", r"sözleşmeyi feshe\w*"),
        "ru": (r"отменить подписку", r"расторгнуть договор", r"отказаться от подписки"),
        "ja": (r"解約", r"契約を解除"),
        "zh": (r"取消订阅", r"解约", r"取消訂閱"),
        "ko": (r"해지", r"구독 취소"),
    },
    "competitor": {
        "en": (
            rf"{_MOVE} (?:over |back )?to (?:a |another |the )?(?:competitor|other (?:tool|provider|vendor|platform)"
            r"|different (?:tool|provider|vendor|platform|solution))",
            rf"{_MOVE} (?:over |back )?to {_KNOWN_COMPETITORS}",
            # A product name alone is no threat ("then I move it to Done", "we are migrating to Azure
            # AD"): the generic forms need a threat's framing.
            r"(?:or|otherwise) (?:else )?(?:we|I)(?:'ll| will)? (?:go|move|switch|jump) (?:over )?to <Name>",
            r"cancel\w* and (?:go|move|switch|jump) (?:over )?to <Name>",
            r"(?:we|I)(?:'ll| will| are going to|'re going to| am going to|'m going to| are|'re| am|'m) "
            r"(?:switching|switch) (?:over |back )?(?:everything |our \w+ )?to <Name>",
            r"take (?:our|my) business (?:elsewhere|to <Name>)",
            r"leave you for <Name>",
            r"(?:look|looking|search|searching|shop|shopping) (?:at|for|around for) (?:alternatives"
            r"|an? alternative (?:tool|provider|vendor|solution|platform)|other (?:tools|providers|vendors|solutions)"
            r"|another (?:tool|provider|vendor|solution))",
            r"(?:evaluat|consider|trial)\w* (?:other tools|alternatives|competitors|a competitor)",
        ),
        "de": (
            r"zur Konkurrenz",
            r"(?:zu|auf) einen anderen Anbieter",
            rf"(?:wechseln|umsteigen|gehen) (?:zu|auf) {_KNOWN_COMPETITORS}",
            rf"(?:zu|auf) {_KNOWN_COMPETITORS} (?:wechseln|umsteigen)",
            r"(?:wir|ich) (?:wechseln|steigen|gehen) (?:zu|auf) <Name>",
            r"(?:dann|sonst) (?:wechseln|gehen) wir (?:zu|auf) <Name>",
            r"(?:nach )?Alternativen (?:suchen|umsehen|prüfen)",
        ),
        "fr": (
            r"(?:chez|vers) (?:la concurrence|un concurrent)",
            rf"(?:passer|migrer|aller) (?:chez|à|sur|vers) {_KNOWN_COMPETITORS}",
            r"(?:nous passerons|on passera|nous allons passer|on va passer|nous allons migrer|on va migrer) "
            r"(?:chez|à|sur|vers) <Name>",
            rf"(?:partir|aller) chez (?:<Name>|{_KNOWN_COMPETITORS})",
            r"changer (?:de fournisseur|de prestataire|de logiciel|d'outil)",
            r"(?:passer à|chercher|choisir|aller vers|migrer vers) un autre (?:outil|fournisseur|prestataire|logiciel)",
        ),
        "es": (
            r"(?:a|con) la competencia",
            r"(?:cambiarnos|pasarnos|nos cambiamos|nos pasamos|nos cambiaremos|nos pasaremos) (?:a|con) <Name>",
            rf"(?:irnos|nos vamos|nos iremos|cambiar|pasar|migrar) (?:a|con) {_KNOWN_COMPETITORS}",
            r"(?:cambiar|cambiaremos) de (?:proveedor|herramienta|plataforma)",
            r"(?:buscar|cambiar a|irnos con|pasar a) otro proveedor",
        ),
        "pt": (
            r"(?:a|para a) concorrência",
            r"(?:vamos|iremos) (?:mudar|migrar|trocar) (?:para|pro) (?:o |a )?<Name>",
            rf"(?:mudar|migrar|trocar|passar|ir|mudaremos|migraremos) (?:para|pro) (?:o |a )?{_KNOWN_COMPETITORS}",
            r"trocar de (?:fornecedor|ferramenta|sistema|plataforma)",
            r"(?:procurar|mudar para|trocar por|ir para) outro fornecedor",
        ),
        "it": (
            r"(?:alla|dalla) concorrenza",
            r"(?:passeremo|migreremo|passiamo) (?:a|ad|su) <Name>",
            rf"(?:passare|migrare) (?:a|ad|su) {_KNOWN_COMPETITORS}",
            r"cambiare (?:fornitore|piattaforma|strumento)",
            r"(?:cercare|passare a|scegliere) un altro fornitore",
        ),
        "nl": (
            r"overstappen (?:naar|op) (?:een concurrent|een andere (?:aanbieder|leverancier|tool)|<Name>)",
            r"stappen (?:we |wij )?over naar <Name>",
            r"naar (?:de|een) concurrent",
            r"naar een andere (?:leverancier|aanbieder|tool)",
        ),
    },
    "non_renewal": {
        "en": (
            r"(?:won't|wont|will not|not going to|aren't going to|are not going to|do not plan to|don't plan to"
            r"|do not intend to|don't intend to) renew",
            r"(?:we are|we're|I am|I'm) not renewing",
            r"non-renewal",
            r"(?:let|letting) (?:our|the|my) (?:contract|subscription|plan|licen[cs]e) (?:lapse|expire|run out)",
        ),
        "de": (
            r"(?:Vertrag|Abo|Abonnement|Lizenzen?) … nicht (?:mehr )?verlängern",
            r"keine Vertragsverlängerung",
            r"auslaufen lassen",
        ),
        "fr": (r"ne (?:pas )?renouveler", r"renouvel(?:lerons|lerai) pas", r"pas de renouvellement"),
        "es": (r"no (?:vamos a |pensamos |queremos )?renovar", r"no (?:lo |la )?renovaremos"),
        "pt": (r"não (?:vamos |iremos |pretendemos |queremos )?renovar", r"não (?:o |a )?renovaremos"),
        "it": (r"non (?:lo |la )?rinnover(?:emo|ò)", r"non (?:intendiamo |vogliamo )?rinnovare"),
        "nl": (r"(?:contract|abonnement|licentie) … niet (?:meer )?verlengen",),
    },
    "refund_and_leave": {
        "en": (
            r"(?:our|my|the) money back",
            r"refund … (?:or|and) (?:we|I)(?:'ll| will| are| am|'re|'m)? (?:cancel\w*|leav\w*|go|walk|done)",
            r"(?:file|filing|issue|open|opening|initiate|do) a charge ?back",
            r"charge ?back (?:with|through) (?:our|my|the) (?:bank|card)",
            r"dispute the (?:charge|payment) with (?:our|my|the) (?:bank|card)",
        ),
        "de": (
            r"Geld zurück",
            r"(?:Rückerstattung|Erstattung) … (?:kündigen|Kündigung)",
            r"Rückbuchung (?:veranlassen|einleiten|beantragen)",
        ),
        "fr": (r"rembours\w* … (?:résili\w*|annul\w*|partons|partir)", r"notre argent"),
        "es": (r"(?:reembolso|devolución) … (?:cancel\w*|nos vamos|baja)", r"(?:solicitar|hacer|abrir) un contracargo"),
        "pt": (r"(?:reembolso|estorno) … (?:cancel\w*|vamos embora|sair)", r"dinheiro de volta"),
        "it": (r"rimborso … (?:disd\w*|ce ne andiamo|annull\w*)", r"soldi indietro"),
        "nl": (r"geld terug", r"terugbetaling … (?:opzeg\w*|zeggen)"),
    },
    "legal_threat": {
        "en": (
            rf"{_WE_WILL} (?:sue|take legal action|file a lawsuit|take you to court)",
            r"sue you",
            r"(?:take|taking|pursue|pursuing|consider|considering) legal action",
            r"(?:our|my) (?:lawyers?|attorneys?|legal team) will (?:be in touch|contact you|hear about this)",
            r"(?:contact|contacting|involve|involving|get|getting|call|calling) (?:our|my) "
            r"(?:lawyers?|attorneys?|legal team)",
            r"(?:file|filing|bring|start) a lawsuit",
            r"lawsuit against you",
            r"see you in court",
            r"small claims",
        ),
        "de": (
            r"(?:rechtliche|juristische) Schritte",
            r"verklagen",
            r"Anwalt (?:einschalten|beauftragen)",
            r"Klage (?:einreichen|erheben)",
        ),
        "fr": (
            r"(?:action|poursuites?) (?:en justice|judiciaires?)",
            r"mise en demeure",
            r"(?:contacter|saisir) (?:notre|mon) avocat",
        ),
        "es": (r"acciones legales", r"vía judicial", r"(?:vamos a )?demandar(?:los|les)?", r"demandaremos"),
        "pt": (r"(?:ação|medidas) (?:judicial|judiciais|legais)", r"(?:vamos )?processar vocês", r"processaremos"),
        "it": (r"(?:azioni|vie) legali", r"fare causa", r"faremo causa"),
        "nl": (r"juridische stappen", r"rechtszaak tegen", r"aanklagen", r"naar de rechter"),
    },
}

#: Capitalised words that follow "switch to" in ordinary support talk: our plans and screens,
#: browsers and systems, integrations. Never a competitor.
NOT_COMPETITORS: tuple[str, ...] = (
    "Settings", "Billing", "Admin", "Dashboard", "Home", "Trash", "Archive", "Inbox", "Board", "Boards",
    "Timeline", "Calendar", "List", "Table", "Kanban", "Gantt", "Dark", "Light", "Chrome", "Firefox",
    "Safari", "Edge", "Brave", "Opera", "Windows", "Mac", "macOS", "Linux", "Ubuntu", "Android", "iOS",
    "iPhone", "iPad", "Google", "Outlook", "Slack", "Teams", "Zoom", "SSO", "SAML", "Okta", "Pro",
    "Business", "Enterprise", "Free", "Premium", "Plus", "Team", "Starter", "Basic", "Annual", "Monthly",
    "Yearly", "English", "German", "French", "Spanish", "UTC", "Step", "Page", "Tab", "Version", "Plan",
    "Support", "Help", "API", "V2", "Beta",
)  # fmt: skip
