//! The portal's words in English, French and Dutch, and the choice of
//! language: the `lang` cookie set by the switcher, else `Accept-Language`.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest};

/// The cookie that keeps the language chosen on the page.
pub const LANG_COOKIE: &str = "lang";

/// A language of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
    /// Dutch.
    Nl,
}

impl Lang {
    /// Every language, in the order of the switcher.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::Nl];

    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
            Lang::Nl => "Nederlands",
        }
    }

    /// A tag's language, if the portal speaks it (`fr-BE` → French).
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            "nl" => Some(Lang::Nl),
            _ => None,
        }
    }

    /// The best language of an `Accept-Language` header (highest q first).
    pub fn negotiate(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    /// The language of a request.
    pub fn of(req: &HttpRequest) -> Lang {
        req.cookie(LANG_COOKIE)
            .and_then(|c| Lang::parse(c.value()))
            .or_else(|| {
                req.headers()
                    .get(actix_web::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::negotiate)
            })
            .unwrap_or(Lang::En)
    }

    /// The word for `key` in this language (the key itself when missing;
    /// a test makes sure none is).
    pub fn t(self, key: &str) -> &'static str {
        let Some((_, words)) = WORDS.iter().find(|(k, _)| *k == key) else {
            return "?";
        };
        match self {
            Lang::En => words[0],
            Lang::Fr => words[1],
            Lang::Nl => words[2],
        }
    }
}

impl FromRequest for Lang {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(Lang::of(req)))
    }
}

/// Every string of the portal: key, then English, French, Dutch.
pub const WORDS: &[(&str, [&str; 3])] = &[
    (
        "site.name",
        [
            "Crossroads — my data",
            "Crossroads — mes données",
            "Crossroads — mijn gegevens",
        ],
    ),
    (
        "skip",
        [
            "Skip to main content",
            "Aller au contenu principal",
            "Naar de hoofdinhoud",
        ],
    ),
    ("nav.label", ["Main menu", "Menu principal", "Hoofdmenu"]),
    (
        "nav.access_log",
        [
            "Who looked at my data",
            "Qui a consulté mes données",
            "Wie bekeek mijn gegevens",
        ],
    ),
    (
        "nav.consents",
        ["My consents", "Mes consentements", "Mijn toestemmingen"],
    ),
    (
        "nav.holders",
        [
            "Who holds data about me",
            "Qui détient des données sur moi",
            "Wie heeft gegevens over mij",
        ],
    ),
    (
        "nav.by_law",
        [
            "Who may see my data by law",
            "Qui peut voir mes données selon la loi",
            "Wie mag mijn gegevens zien volgens de wet",
        ],
    ),
    ("nav.sign_out", ["Sign out", "Se déconnecter", "Afmelden"]),
    ("lang.label", ["Language", "Langue", "Taal"]),
    (
        "signed_in_as",
        [
            "Signed in with common ID",
            "Connecté avec l'identifiant commun",
            "Aangemeld met gemeenschappelijk nummer",
        ],
    ),
    ("sign_in.title", ["Sign in", "Se connecter", "Aanmelden"]),
    (
        "sign_in.intro",
        [
            "Sign in to see who used your data and to manage your consents.",
            "Connectez-vous pour voir qui a utilisé vos données et gérer vos consentements.",
            "Meld u aan om te zien wie uw gegevens gebruikte en om uw toestemmingen te beheren.",
        ],
    ),
    (
        "sign_in.common_id",
        [
            "Common ID",
            "Identifiant commun",
            "Gemeenschappelijk nummer",
        ],
    ),
    (
        "sign_in.password",
        ["Password", "Mot de passe", "Wachtwoord"],
    ),
    (
        "sign_in.totp",
        [
            "Code from your authenticator app (if you set one up)",
            "Code de votre application d'authentification (si vous en avez une)",
            "Code uit uw authenticator-app (als u er een instelde)",
        ],
    ),
    ("sign_in.submit", ["Sign in", "Se connecter", "Aanmelden"]),
    (
        "sign_in.first_time",
        [
            "First time here? Activate your account with the code from your letter.",
            "Première visite ? Activez votre compte avec le code de votre lettre.",
            "Eerste keer? Activeer uw account met de code uit uw brief.",
        ],
    ),
    (
        "sign_in.expired",
        [
            "Your session has ended. Please sign in again.",
            "Votre session est terminée. Veuillez vous reconnecter.",
            "Uw sessie is afgelopen. Meld u opnieuw aan.",
        ],
    ),
    (
        "sign_in.activated",
        [
            "Your account is active. You can sign in now.",
            "Votre compte est actif. Vous pouvez vous connecter.",
            "Uw account is actief. U kunt zich nu aanmelden.",
        ],
    ),
    (
        "sign_in.signed_out",
        [
            "You are signed out.",
            "Vous êtes déconnecté.",
            "U bent afgemeld.",
        ],
    ),
    (
        "activate.title",
        [
            "Activate your account",
            "Activer votre compte",
            "Uw account activeren",
        ],
    ),
    (
        "activate.intro",
        [
            "Enter your common ID, the activation code from your letter, and choose a password of at least 12 characters.",
            "Saisissez votre identifiant commun, le code d'activation de votre lettre et choisissez un mot de passe d'au moins 12 caractères.",
            "Vul uw gemeenschappelijk nummer en de activeringscode uit uw brief in, en kies een wachtwoord van minstens 12 tekens.",
        ],
    ),
    (
        "activate.code",
        ["Activation code", "Code d'activation", "Activeringscode"],
    ),
    (
        "activate.password",
        ["New password", "Nouveau mot de passe", "Nieuw wachtwoord"],
    ),
    ("activate.submit", ["Activate", "Activer", "Activeren"]),
    (
        "error.credentials",
        [
            "The common ID, password or code is not right.",
            "L'identifiant commun, le mot de passe ou le code est incorrect.",
            "Het gemeenschappelijk nummer, wachtwoord of de code klopt niet.",
        ],
    ),
    (
        "error.locked",
        [
            "Too many failed attempts. The account is locked for a while; try again later.",
            "Trop d'essais infructueux. Le compte est bloqué un moment ; réessayez plus tard.",
            "Te veel mislukte pogingen. Het account is even geblokkeerd; probeer later opnieuw.",
        ],
    ),
    (
        "error.not_activated",
        [
            "This account is not active yet. Activate it with the code from your letter first.",
            "Ce compte n'est pas encore actif. Activez-le d'abord avec le code de votre lettre.",
            "Dit account is nog niet actief. Activeer het eerst met de code uit uw brief.",
        ],
    ),
    (
        "error.refused",
        [
            "This was not accepted:",
            "Ceci n'a pas été accepté :",
            "Dit werd niet aanvaard:",
        ],
    ),
    (
        "error.title",
        [
            "Something went wrong",
            "Un problème est survenu",
            "Er ging iets mis",
        ],
    ),
    (
        "error.csrf",
        [
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
            "Ce formulaire a expiré ou ne provient pas de ce site. Revenez en arrière, rechargez la page et réessayez.",
            "Dit formulier is verlopen of kwam niet van deze site. Ga terug, laad de pagina opnieuw en probeer nog eens.",
        ],
    ),
    (
        "error.not_found",
        [
            "We could not find this.",
            "Nous n'avons pas trouvé ceci.",
            "We vonden dit niet.",
        ],
    ),
    (
        "error.internal",
        [
            "An internal error occurred. Please try again later.",
            "Une erreur interne s'est produite. Réessayez plus tard.",
            "Er trad een interne fout op. Probeer later opnieuw.",
        ],
    ),
    (
        "error.back",
        [
            "Back to the portal",
            "Retour au portail",
            "Terug naar het portaal",
        ],
    ),
    (
        "log.title",
        [
            "Who looked at my data",
            "Qui a consulté mes données",
            "Wie bekeek mijn gegevens",
        ],
    ),
    (
        "log.intro",
        [
            "Every request about you is written to a public, tamper-evident log — also the ones that were refused. Newest first.",
            "Chaque demande vous concernant est inscrite dans un journal public et infalsifiable — y compris celles qui ont été refusées. Les plus récentes d'abord.",
            "Elke aanvraag over u wordt in een openbaar, fraudebestendig logboek geschreven — ook de geweigerde. Nieuwste eerst.",
        ],
    ),
    ("log.filter", ["Filter", "Filtrer", "Filteren"]),
    ("log.from", ["From (date)", "Du (date)", "Van (datum)"]),
    ("log.to", ["Until (date)", "Au (date)", "Tot (datum)"]),
    ("log.agency", ["Agency", "Organisme", "Instantie"]),
    (
        "log.record_type",
        ["Record type", "Type de données", "Soort gegevens"],
    ),
    ("log.apply", ["Show", "Afficher", "Tonen"]),
    (
        "log.caption",
        [
            "Requests and events about you",
            "Demandes et événements vous concernant",
            "Aanvragen en gebeurtenissen over u",
        ],
    ),
    ("log.when", ["When", "Quand", "Wanneer"]),
    ("log.what", ["What", "Quoi", "Wat"]),
    ("log.purpose", ["Purpose", "Finalité", "Doel"]),
    (
        "log.basis",
        [
            "Legal basis or consent",
            "Base légale ou consentement",
            "Wettelijke basis of toestemming",
        ],
    ),
    ("log.outcome", ["Outcome", "Résultat", "Resultaat"]),
    ("log.proof", ["Proof", "Preuve", "Bewijs"]),
    (
        "log.proof_ok",
        [
            "proof verified ✓ against checkpoint",
            "preuve vérifiée ✓ par rapport au point de contrôle",
            "bewijs geverifieerd ✓ tegen controlepunt",
        ],
    ),
    (
        "log.proof_bad",
        [
            "proof did NOT verify ✗",
            "la preuve n'a PAS été vérifiée ✗",
            "bewijs NIET geverifieerd ✗",
        ],
    ),
    (
        "log.empty",
        ["Nothing to show.", "Rien à afficher.", "Niets te tonen."],
    ),
    (
        "log.older",
        ["Older entries", "Entrées plus anciennes", "Oudere items"],
    ),
    (
        "log.newest",
        [
            "Newest entries",
            "Entrées les plus récentes",
            "Nieuwste items",
        ],
    ),
    ("log.pages", ["Pages", "Pages", "Pagina's"]),
    (
        "log.authorization",
        ["authorization", "autorisation", "machtiging"],
    ),
    ("log.consent", ["consent", "consentement", "toestemming"]),
    ("log.you", ["you", "vous", "u"]),
    ("kind.lookup", ["looked up", "consultation", "opgevraagd"]),
    ("kind.other", ["event", "événement", "gebeurtenis"]),
    (
        "kind.notification",
        [
            "change passed on",
            "changement transmis",
            "wijziging doorgegeven",
        ],
    ),
    (
        "log.notified",
        [
            "{provider} told {receiver} about a change to {record}.",
            "{provider} a informé {receiver} d'un changement concernant {record}.",
            "{provider} heeft {receiver} op de hoogte gebracht van een wijziging van {record}.",
        ],
    ),
    ("outcome.permitted", ["permitted", "autorisé", "toegestaan"]),
    ("outcome.denied", ["refused", "refusé", "geweigerd"]),
    ("outcome.error", ["failed", "échec", "mislukt"]),
    (
        "outcome.recorded",
        ["recorded", "enregistré", "geregistreerd"],
    ),
    (
        "consents.title",
        ["My consents", "Mes consentements", "Mijn toestemmingen"],
    ),
    (
        "consents.pending",
        [
            "Requests waiting for your answer",
            "Demandes en attente de votre réponse",
            "Aanvragen die op uw antwoord wachten",
        ],
    ),
    (
        "consents.current",
        [
            "Active and paused consents",
            "Consentements actifs et suspendus",
            "Actieve en gepauzeerde toestemmingen",
        ],
    ),
    (
        "consents.past",
        [
            "Past consents and requests",
            "Consentements et demandes passés",
            "Vroegere toestemmingen en aanvragen",
        ],
    ),
    ("consents.none", ["None.", "Aucun.", "Geen."]),
    ("consents.who", ["Who asks", "Qui demande", "Wie vraagt"]),
    ("consents.what", ["What", "Quoi", "Wat"]),
    ("consents.why", ["Why", "Pourquoi", "Waarom"]),
    (
        "consents.how_long",
        ["How long", "Pour combien de temps", "Hoe lang"],
    ),
    (
        "consents.how_often",
        ["How often", "À quelle fréquence", "Hoe vaak"],
    ),
    ("consents.state", ["State", "État", "Status"]),
    ("consents.actions", ["Actions", "Actions", "Acties"]),
    ("consents.until", ["until", "jusqu'au", "tot"]),
    ("consents.once", ["once", "une fois", "één keer"]),
    (
        "consents.told_once",
        [
            "This agency is told automatically when this information about you changes. The first such notification uses up this consent, which allows a single use.",
            "Cet organisme est informé automatiquement lorsque ces informations vous concernant changent. La première de ces notifications utilise ce consentement, qui ne vaut qu'une fois.",
            "Deze instantie wordt automatisch op de hoogte gebracht wanneer deze gegevens over u wijzigen. De eerste zo'n melding verbruikt deze toestemming, die maar één keer geldt.",
        ],
    ),
    ("consents.times_per", ["times per", "fois par", "keer per"]),
    ("period.day", ["day", "jour", "dag"]),
    ("period.week", ["week", "semaine", "week"]),
    ("period.month", ["month", "mois", "maand"]),
    ("period.year", ["year", "an", "jaar"]),
    (
        "consents.current_caption",
        [
            "Consents in use",
            "Consentements en vigueur",
            "Toestemmingen in gebruik",
        ],
    ),
    (
        "consents.past_caption",
        [
            "Consents no longer in use",
            "Consentements qui ne sont plus utilisés",
            "Toestemmingen niet meer in gebruik",
        ],
    ),
    ("action.approve", ["Approve", "Accepter", "Goedkeuren"]),
    ("action.reject", ["Reject", "Refuser", "Weigeren"]),
    ("action.pause", ["Pause", "Suspendre", "Pauzeren"]),
    ("action.resume", ["Resume", "Reprendre", "Hervatten"]),
    ("action.revoke", ["Revoke", "Retirer", "Intrekken"]),
    (
        "action.artefact",
        [
            "Download signed consent",
            "Télécharger le consentement signé",
            "Ondertekende toestemming downloaden",
        ],
    ),
    (
        "state.pending",
        ["waiting for you", "en attente", "wacht op u"],
    ),
    ("state.active", ["active", "actif", "actief"]),
    ("state.paused", ["paused", "suspendu", "gepauzeerd"]),
    ("state.rejected", ["rejected", "refusé", "geweigerd"]),
    ("state.revoked", ["revoked", "retiré", "ingetrokken"]),
    ("state.expired", ["expired", "expiré", "verlopen"]),
    (
        "holders.title",
        [
            "Who holds data about me",
            "Qui détient des données sur moi",
            "Wie heeft gegevens over mij",
        ],
    ),
    (
        "holders.intro",
        [
            "These agencies told the hub that they keep a file about you, or that they are the official source of some of your data, and in which capacity.",
            "Ces organismes ont déclaré au hub qu'ils tiennent un dossier vous concernant, ou qu'ils sont la source officielle de certaines de vos données, et à quel titre.",
            "Deze instanties meldden aan de hub dat ze een dossier over u bijhouden, of dat ze de officiële bron van sommige van uw gegevens zijn, en in welke hoedanigheid.",
        ],
    ),
    (
        "holders.caption",
        [
            "Agencies with a file about you",
            "Organismes ayant un dossier vous concernant",
            "Instanties met een dossier over u",
        ],
    ),
    (
        "holders.capacity",
        ["Capacity", "À quel titre", "Hoedanigheid"],
    ),
    (
        "holders.kind",
        ["What they declared", "Déclaration", "Melding"],
    ),
    (
        "holders.kind.file",
        [
            "holds a file about you",
            "tient un dossier vous concernant",
            "houdt een dossier over u bij",
        ],
    ),
    (
        "holders.kind.source",
        [
            "official source of",
            "source officielle de",
            "officiële bron van",
        ],
    ),
    ("holders.since", ["Since", "Depuis", "Sinds"]),
    ("holders.until", ["Until", "Jusqu'au", "Tot"]),
    ("holders.ongoing", ["ongoing", "en cours", "lopend"]),
    (
        "holders.none",
        [
            "No agency has declared a file about you.",
            "Aucun organisme n'a déclaré de dossier vous concernant.",
            "Geen enkele instantie meldde een dossier over u.",
        ],
    ),
    (
        "law.title",
        [
            "Who may see my data by law",
            "Qui peut voir mes données selon la loi",
            "Wie mag mijn gegevens zien volgens de wet",
        ],
    ),
    (
        "law.intro",
        [
            "These rules are in force for everyone. Some need your consent as well; the others apply without it.",
            "Ces règles s'appliquent à tous. Certaines exigent aussi votre consentement ; les autres s'appliquent sans lui.",
            "Deze regels gelden voor iedereen. Sommige vragen ook uw toestemming; de andere gelden zonder.",
        ],
    ),
    (
        "law.caption",
        [
            "Authorizations in force",
            "Autorisations en vigueur",
            "Machtigingen van kracht",
        ],
    ),
    (
        "law.who",
        ["Who may ask", "Qui peut demander", "Wie mag vragen"],
    ),
    (
        "law.fields",
        ["Which details", "Quelles informations", "Welke gegevens"],
    ),
    (
        "law.reference",
        [
            "Legal reference",
            "Référence légale",
            "Wettelijke grondslag",
        ],
    ),
    (
        "law.consent",
        [
            "Your consent needed",
            "Votre consentement requis",
            "Uw toestemming nodig",
        ],
    ),
    (
        "law.since",
        ["In force since", "En vigueur depuis", "Van kracht sinds"],
    ),
    (
        "law.every",
        ["every agency", "tout organisme", "elke instantie"],
    ),
    ("yes", ["yes", "oui", "ja"]),
    ("no", ["no", "non", "nee"]),
    (
        "forbidden.title",
        ["Not allowed", "Non autorisé", "Niet toegestaan"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_all_three_languages_once() {
        let mut seen = std::collections::HashSet::new();
        for (key, words) in WORDS {
            assert!(seen.insert(*key), "`{key}` appears twice");
            for (lang, word) in Lang::ALL.iter().zip(words) {
                assert!(!word.trim().is_empty(), "`{key}` is empty in {lang:?}");
            }
        }
    }

    #[test]
    fn every_key_the_pages_use_exists() {
        let sources = [
            include_str!("layout.rs"),
            include_str!("sign_in.rs"),
            include_str!("activate.rs"),
            include_str!("access_log.rs"),
            include_str!("consents.rs"),
            include_str!("references.rs"),
            include_str!("by_law.rs"),
            include_str!("record_types.rs"),
            include_str!("mod.rs"),
        ];
        let mut used = 0;
        for source in sources {
            for part in source.split(".t(\"").skip(1) {
                let key = part.split('"').next().unwrap_or_default();
                assert!(
                    WORDS.iter().any(|(k, _)| *k == key),
                    "`{key}` is used but has no translations"
                );
                used += 1;
            }
        }
        assert!(used > 50, "only {used} uses found");
    }

    #[test]
    fn sentences_keep_their_placeholders_in_every_language() {
        for (key, words) in WORDS {
            let placeholders = |word: &str| {
                let mut found: Vec<String> = word
                    .split('{')
                    .skip(1)
                    .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
                    .collect();
                found.sort();
                found
            };
            let english = placeholders(words[0]);
            for word in &words[1..] {
                assert_eq!(placeholders(word), english, "`{key}`: {word}");
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(Lang::negotiate("fr-BE,fr;q=0.9,en;q=0.8"), Some(Lang::Fr));
        assert_eq!(Lang::negotiate("de, nl;q=0.7, en;q=0.5"), Some(Lang::Nl));
        assert_eq!(Lang::negotiate("en;q=0.2, nl-BE"), Some(Lang::Nl));
        assert_eq!(Lang::negotiate("de"), None);
    }
}
