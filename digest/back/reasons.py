"""Why a message was not delivered, read from the server's own words: the reason, and what it means for the reader.

The reasons are the ones the reference bounce classifier (sisimai) uses, and
the phrases are the ones mail systems really write (Postfix, Exim, sendmail,
Exchange and Office 365, Gmail, Yahoo, Domino, qmail, the Japanese mobile
carriers, …). The words decide before any status code: a DSN's Status is
often a guess of the reporting MTA (Exim writes 5.0.0, some write 5.1.1 for
every refusal), while the remote server's own reply says what happened
(`Status: 5.1.1` with `550 5.7.1 IP address blacklisted` is a refusal of our
message, not a dead address).

The order matters: refusals about us or the message, full mailboxes, rate
limits and passing faults are looked for before the words of a dead address,
because a refusal text often quotes the address and a word like "rejected".
"""

from __future__ import annotations

import re

__all__ = ["reason_of", "KIND_OF", "HARD_REASONS", "AFTER_DATA"]

#: Reasons that mean the address is dead: suppress at once.
HARD_REASONS = ("userunknown", "hostunknown", "hasmoved", "notaccept")
_SOFT_REASONS = ("mailboxfull", "exceedlimit", "systemfull", "suspend", "expired", "networkerror", "systemerror",
                 "toomanyconn", "speeding", "onhold", "mailererror", "filtered")
_REFUSED_REASONS = ("norelaying", "blocked", "spamdetected", "policyviolation", "securityerror", "badreputation",
                    "requireptr", "authfailure", "rejected", "contenterror", "mesgtoobig", "virusdetected",
                    "syntaxerror", "notcompliantrfc")
#: What each reason means for digest: hard (suppress), soft (count) or refused (recorded, never the reader's).
KIND_OF = {**dict.fromkeys(HARD_REASONS, "hard"), **dict.fromkeys(_SOFT_REASONS, "soft"),
           **dict.fromkeys(_REFUSED_REASONS, "refused")}


def _rx(*phrases: str) -> re.Pattern[str]:
    # Lower-case phrases over lower-cased text: case-sensitive matching is markedly faster than IGNORECASE.
    return re.compile("|".join(phrases))


# (reason, phrases), tried in this order; the first that matches decides.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("mailererror", _rx(r"^\s*x-unix\s*;", r"\bprocmail:", r"\bcommand\s+(?:died|failed|output)")),
    ("rejected", _rx(r"\bsending\s+(?:quota|limit)", r"\bdaily\s+(?:user\s+)?sending")),
    ("norelaying", _rx(
        r"\brelay(?:ing)?\s+(?:access\s+)?(?:denied|not\s+(?:permitted|allowed)|prohibited|refused)",
        r"\b(?:unable|not\s+allowed|not\s+permitted)\s+to\s+relay", r"\bno\s+relaying", r"\bwe\s+do\s+not\s+relay",
        r"\ballowed\s+rcpthosts", r"\brelaying\s+(?:mail\s+)?(?:to\s+\S+\s+)?(?:is\s+)?(?:denied|not\s+allowed)",
        r"\bthat\s+domain\s+isn'?t\s+in\s+my\s+list\s+of\s+allowed")),
    ("authfailure", _rx(
        r"\bdmarc\b", r"\bspf\b", r"\bdkim\b", r"\bsender\s+policy\s+framework", r"\bauthenticat\w+\s+(?:fail|check)",
        r"\bunauthenticated\s+(?:email|mail|sender)", r"\bnot\s+authenticated\s+with",
        r"\bsend(?:er|ing)\s+domain\s+(?:is\s+)?not\s+authori[sz]ed")),
    ("securityerror", _rx(
        r"\bauthentication\s+(?:required|failed)", r"\bnot\s+(?:logged\s+in|authenticated)\b",
        r"\b(?:tls|starttls|encryption)\s+(?:is\s+)?required", r"\bmust\s+issue\s+a\s+starttls",
        r"\bsubmission\s+(?:is\s+)?not\s+allowed", r"\bimproper\s+use\s+of\s+smtp")),
    ("requireptr", _rx(
        r"\b(?:no|missing|cannot\s+find\s+(?:your\s+)?|invalid)\s+(?:ptr|reverse\s+dns|rdns|reverse\s+(?:lookup|dns))",
        r"\breverse\s+(?:dns|lookup)\s+(?:failed|required|for\s+\S+\s+failed)", r"\bptr\s+record",
        r"\bcannot\s+resolve\s+your\s+(?:address|hostname)", r"\bclient\s+host\s+rejected:\s+cannot\s+find",
        r"\bunresolvable\s+(?:relay\s+)?host\s+name", r"\bhave\s+no\s+ptr", r"\bno\s+(?:valid\s+)?reverse")),
    ("virusdetected", _rx(r"\bvirus\b", r"\bmalware\b", r"\binfected\b", r"\bmalicious\s+(?:content|attachment)")),
    ("spamdetected", _rx(
        r"\bspam\b", r"\bjunk\s+mail", r"\bunsolicited\b", r"\bbulk\s+(?:mail|e-?mail)",
        r"\bcontent\s+(?:filter|rejected|was\s+rejected)", r"\bscore\s+(?:too\s+high|exceeded)",
        r"\bphish", r"\bmessage\s+(?:looks\s+like|classified\s+as|considered)")),
    ("badreputation", _rx(r"\breputation\b", r"\bsender\s+score", r"\bpoor\s+(?:email\s+)?(?:sending\s+)?history")),
    ("filtered", _rx(r"\bdue\s+to\s+recipient\s+preferences", r"\brejected\s+by\s+(?:the\s+)?(?:recipient'?s?\s+)?"
                     r"(?:domain\s+)?filter")),
    ("mailboxfull", _rx(
        r"\bmailbox\s+(?:is\s+)?(?:full|over\s*quota|exceeded)", r"\bover\s*quota\b", r"\bover\s+the\s+quota",
        r"\bquota\s+(?:exceeded|violation|full)", r"\bexceeded\s+(?:storage|(?:the\s+|their\s+|his\s+|her\s+)?quota)",
        r"\binsufficient\s+(?:system\s+)?storage", r"\bmailbox\s+size\s+limit", r"\bmail\s*box\s+full",
        r"\bnot\s+enough\s+(?:storage|space)", r"\bdisk\s+quota", r"\buser'?s?\s+(?:disk\s+)?quota",
        r"\bfull\s+mailbox", r"\bmailfolder\s+is\s+full", r"\bstorage\s+(?:quota|limit)",
        r"\bexceeds\s+(?:the\s+)?(?:size\s+limit|allowed\s+size|storage)", r"\bno\s+space\s+left",
        r"\bhas\s+exceeded\s+(?:the\s+)?(?:max(?:imum)?|allowed)",
        r"\bmailbox\s+has\s+exceeded")),
    ("mesgtoobig", _rx(
        r"\bmessage\s+(?:size\s+)?(?:is\s+)?too\s+(?:big|large|long)", r"\bmessage\s+size\s+exceeds",
        r"\bexceeds\s+(?:the\s+)?(?:maximum\s+)?message\s+size", r"\bsize\s+limit\s+exceeded",
        r"\bmessage\s+length\s+exceeds")),
    ("speeding", _rx(
        r"\brate\s+limit", r"\breceiving\s+mail\s+at\s+a\s+rate", r"\btoo\s+many\s+(?:messages|recipients|mails)",
        r"\bsent\s+to\s+too\s+many", r"\bthrottl", r"\btry\s+(?:again\s+)?later", r"\bexceeded\s+the\s+rate",
        r"\bdelivery\s+limit", r"\bmessage\s+rate")),
    ("toomanyconn", _rx(r"\btoo\s+many\s+(?:connections|concurrent|sessions)", r"\bconnection\s+limit")),
    ("networkerror", _rx(
        r"\bmalformed\s+or\s+unexpected\s+name\s+server\s+reply", r"\btemporary\s+failure\s+in\s+name\s+resolution",
        r"\bname\s+server\s+(?:timeout|failure)")),
    ("hostunknown", _rx(r"\bhost\s+(?:or\s+domain\s+name\s+)?not\s+found",
                        r"\d\s+[a-z0-9-]+(?:\.[a-z0-9-]+)+\s+does\s+not\s+exist\b", r"\bdomain\s+is\s+not\s+reachable",
                        r"\bno\s+smtp\s+service")),
    ("networkerror", _rx(
        r"\bname\s+service\s+error",
        r"\bconnection\s+(?:timed\s+out|refused|reset|lost|closed)", r"\bnetwork\s+(?:is\s+)?unreachable",
        r"\bno\s+route\s+to\s+host", r"\btemporary\s+(?:lookup|dns)\s+failure",
        r"\bdns\s+(?:lookup\s+)?(?:error|failure)",
        r"\blost\s+connection", r"\bread\s+error", r"\bhop\s+count\s+exceeded", r"\bmail\s+loop",
        r"\btoo\s+many\s+hops", r"\brouting\s+loop", r"\bunable\s+to\s+connect",
        r"\bremote\s+protocol\s+error", r"\bconnection\s+reset\s+by\s+peer")),
    ("expired", _rx(
        r"\bdelivery\s+(?:time\s+)?expired", r"\bretry\s+(?:time(?:out)?|timeout)\s+exceeded",
        r"\bmessage\s+expired", r"\bcould\s+not\s+be\s+delivered\s+within",
        r"\bhas\s+not\s+been\s+delivered\s+for", r"\bwas\s+not\s+delivered\s+within", r"\bqueue\s+too\s+long",
        r"\bmessage\s+timed\s+out", r"\bdelivery\s+attempts\s+will\s+continue",
        r"\bun(?:able|deliverable)\s+for\s+\d+\s+days",
        r"\bcannot\s+be\s+delivered\s+for\s+\d+", r"\bcannot\s+send\s+message\s+for\s+\d+", r"\btimeout\b",
        r"\btimed\s+out")),
    ("suspend", _rx(
        r"\b(?:account|mailbox|user|recipient|address)\s+(?:is\s+|has\s+been\s+)?(?:disabled|deactivated|"
        r"inactive|suspended|locked|blocked|frozen|on\s+hold|closed|expired)",
        r"\bdisabled\s+(?:account|mailbox|user)", r"\bsuspended\s+(?:account|mailbox)",
        r"\bthe\s+email\s+account\s+that\s+you\s+tried\s+to\s+reach\s+is\s+(?:disabled|inactive|over)",
        r"\bnot\s+(?:an\s+)?active\s+(?:user|account|mailbox)", r"\binactive\s+(?:user|account|mailbox)",
        r"\bboite\s+du\s+destinataire\s+archivee", r"\bmailbox\s+unavailable\s+or\s+access\s+denied")),
    ("policyviolation", _rx(
        r"\bpolicy\b", r"\bprohibited\b", r"\bnot\s+allowed\s+by", r"\bblocked\s+by\s+(?:the\s+)?(?:recipient|rule)",
        r"\bdelivery\s+not\s+authori[sz]ed", r"\bmessage\s+not\s+allowed")),
    ("blocked", _rx(
        r"\bblock(?:ed|list|listed)\b", r"\bblack\s?list", r"\bdeny\s?list", r"\bdnsbl\b", r"\brbl\b",
        r"\bspamhaus\b", r"\bbarracuda\s+reputation",
        r"\blisted\s+(?:at|in|on)\s+(?:\S+\s+)?(?:bl|dnsbl|rbl|spamhaus|black)", r"\bbanned\b",
        r"\bip\s+(?:address\s+)?(?:rejected|refused|not\s+allowed)",
        r"\bclient\s+host\s+(?:\S+\s+)?(?:rejected|blocked)",
        r"\baccess\s+denied\b.*\b(?:ip|host|client)\b", r"\bnot\s+accepting\s+mail\s+from",
        r"\bconnection\s+(?:rejected|refused)\s+(?:by|from)", r"\byour\s+(?:ip|host|server)\b")),
    ("rejected", _rx(
        r"\bsender\s+(?:address\s+)?(?:rejected|refused|denied|verify\s+failed|domain\s+(?:must\s+exist|not\s+found))",
        r"\bdomain\s+of\s+sender\s+address", r"\bsender\s+(?:is\s+)?(?:not\s+allowed|blacklisted|invalid)",
        r"\bbad\s+sender", r"\breject(?:ed)?\s+sender", r"\binvalid\s+sender", r"\bsender\s+unknown",
        r"\bsending\s+(?:quota|limit)", r"\bdaily\s+(?:user\s+)?sending")),
    ("contenterror", _rx(
        r"\bmessage\s+(?:header|content)\s+(?:is\s+)?(?:invalid|malformed)", r"\binvalid\s+(?:mime|header)",
        r"\bheader\s+(?:size|line)\s+(?:exceed|too)", r"\bcharset", r"\b8\s*bit\s+data",
        r"\bbare\s+(?:lf|line\s+feed)", r"\bnot\s+rfc\s*\d+\s+compliant", r"\bline\s+too\s+long")),
    ("systemfull", _rx(r"\bsystem\s+(?:storage\s+)?(?:is\s+)?full", r"\bout\s+of\s+(?:disk|storage)\s+space")),
    ("hasmoved", _rx(r"\bhas\s+(?:been\s+)?moved\b", r"\bno\s+longer\s+(?:at|with)\b", r"\bnew\s+address\s+is")),
    ("hostunknown", _rx(
        r"\bhost\s+(?:or\s+domain\s+name\s+)?(?:not\s+found|unknown)", r"\bunknown\s+(?:host|domain)",
        r"\bno\s+such\s+(?:host|domain)", r"\bdomain\s+(?:not\s+found|does\s+not\s+exist|name\s+not\s+found|"
        r"is\s+not\s+(?:valid|registered))",
        r"\bnull\s+mx\b", r"\bno\s+mx\s+(?:record|host)", r"\bnot\s+a\s+valid\s+domain", r"\bunrouteable\s+address",
        r"\bhost\s+(?:name\s+)?lookup\s+(?:failed|did\s+not\s+complete)", r"\bdomain\s+name\s+not\s+found",
        r"\brecipient\s+domain\s+(?:\S+\s+)?(?:does\s+not\s+exist|not\s+found)",
        r"\bdns\s+(?:error:?\s+)?domain\s+\S+\s+not\s+found",
        r"\bnxdomain\b", r"\bnon-?existent\s+(?:host|domain)", r"\bbad\s+destination\s+(?:host|domain)")),
    ("userunknown", _rx(
        r"\buser\s+unknown", r"\bunknown\s+(?:user|recipient|mailbox|address|local[\s-]part|e-?mail)",
        r"\bno\s+such\s+(?:user|mailbox|recipient|account|address|person|local\s+user)",
        r"\b(?:user|mailbox|recipient|account|address|e-?mail\s+address)\s+(?:does\s+not|doesn'?t|did\s+not)\s+exist",
        r"\b(?:user|mailbox|recipient|account|address)\s+(?:not\s+found|unknown|invalid|not\s+exist)",
        r"\bthe\s+email\s+account\s+that\s+you\s+tried\s+to\s+reach\s+does\s+not\s+exist",
        r"\binvalid\s+(?:recipient|mailbox|address|user)\b", r"\baddress\s+rejected:\s+user\s+unknown",
        r"\b(?:user|recipient)\s+(?:does\s+not|doesn'?t)\s+have\s+an?\s+[\w.-]+\s+account",
        r"\bmailbox\s+is\s+(?:not\s+valid|invalid)\b",
        r"\bnot\s+listed\s+in\s+(?:public\s+)?(?:name\s+&\s+address|domino)",
        r"\bno\s+mailbox\s+here", r"\bmailbox\s+(?:not\s+found|does\s+not\s+exist)",
        r"\brecipient\s+(?:address\s+)?rejected:\s+(?:access\s+denied|user\s+unknown|undeliverable|not\s+found)",
        r"\bunrouteable\s+mail\s+domain", r"\bis\s+not\s+a\s+valid\s+(?:user|mailbox|recipient)",
        r"\baddress\s+(?:is\s+)?(?:not\s+valid|invalid|unknown)", r"\bno\s+account\s+by\s+that\s+name",
        r"\bnot\s+our\s+customer", r"\buser\s+(?:is\s+)?not\s+(?:found|known|here|local)",
        r"\bunknown\s+or\s+illegal\s+alias",
        r"\bdestination\s+addresses\s+were\s+unknown", r"\brecipient\s+(?:is\s+)?not\s+(?:found|known|exist)",
        r"\bbad\s+(?:destination\s+)?mailbox\s+address", r"\bnot\s+a\s+known\s+user", r"\bdoes\s+not\s+exist\s+here",
        r"\bnon-?existent\s+(?:user|mailbox|recipient|account)", r"\bundeliverable\s+address",
        r"\baccount\s+(?:has\s+been\s+)?(?:removed|deleted|terminated)", r"\bno\s+such\s+(?:name|e-?mail)",
        r"\bmailbox\s+name\s+not\s+allowed",
        r"\bsorry,\s+no\s+mailbox", r"\brecipient\s+name\s+is\s+not\s+recognized", r"#5\.1\.0\s+address\s+rejected",
        r"\binvalid\s+final\s+delivery\s+userid",
        r"\bno\s+valid\s+recipients", r"\bcannot\s+find\s+(?:the\s+)?(?:mailbox|recipient|user)")),
    ("notaccept", _rx(r"\bdoes\s+not\s+accept\s+(?:e-?)?mail", r"\bindicated\s+no\s+smtp\s+service",
                       r"\bnot\s+accepting\s+(?:any\s+)?(?:e-?)?mail\b")),
    ("systemerror", _rx(
        r"\bsystem\s+(?:error|failure)", r"\binternal\s+(?:server\s+)?error", r"\blocal\s+(?:error|problem)",
        r"\bserver\s+(?:error|configuration\s+(?:error|problem))", r"\bservice\s+(?:not\s+available|unavailable)",
        r"\bmisconfigur", r"\btemporar(?:y|ily)\s+(?:failure|unavailable|error|problem)", r"\bi/o\s+error")),
)


# An "unknown user" answered to the message's content, not to RCPT TO, is a filter at the recipient's
# (the Japanese carriers' domain filters answer so): the address took RCPT, so it is not proof of death.
AFTER_DATA = re.compile(r"\bend\s+of\s+data\b|\bafter\s+(?:end\s+of\s+)?data\b|>>>\s*data\b"
                        r"|\bin\s+reply\s+to\s+(?:end\s+of\s+)?data\b|smtp\s+command\s+data\b", re.IGNORECASE)


# Words that name a dead address so plainly that a filter would not say them (Yahoo answers so at DATA).
_PLAINLY_DEAD = re.compile(r"\b(?:user|recipient)\s+(?:does\s+not|doesn'?t)\s+have\s+an?\s+[\w.-]+\s+account",
                           re.IGNORECASE)


def reason_of(text: str, *, after_data: bool = False, code: str = "", earliest: bool = False) -> str:
    """The reason a server's words give (`userunknown`, `mailboxfull`, `blocked`, …), or "" when they say none.

    `after_data`: the reply came after the message's content was sent (else told by the words);
    an unknown user then is `filtered`, unless the code names the address (5.1.x) plainly.
    """
    if not text:
        return ""
    text = text.lower()
    rules = _RULES
    if earliest:
        # A notice's words about one address run on into the next lines (a later retry, another
        # host): what is said first about it is its reason.
        found = [(m.start(), n) for n, (_, p) in enumerate(_RULES) if (m := p.search(text))]
        rules = tuple(_RULES[n] for _, n in sorted(found))
    for reason, pattern in rules:
        if pattern.search(text):
            if (reason == "userunknown" and not code.startswith("5.1.") and not _PLAINLY_DEAD.search(text)
                    and (after_data or AFTER_DATA.search(text))):
                return "filtered"
            return reason
    return ""
