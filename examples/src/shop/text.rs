//! The shop's words in its three languages, and which language a request
//! gets.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

/// A language the shop speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English, the default.
    En,
    /// French.
    Fr,
    /// German.
    De,
}

impl Lang {
    /// Every language, in the order the page offers them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::De];

    /// The BCP 47 code, as stored in the session and put in `<html lang>`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
        }
    }

    /// The language named by `code`, if the shop speaks it.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// The language's name in itself, for the language menu.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
            Lang::De => "Deutsch",
        }
    }

    /// The first language of `Accept-Language` the shop speaks, by the
    /// client's weights; English when there is none.
    #[must_use]
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        let Some(accepted) = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
        else {
            return Lang::En;
        };
        let mut best: Option<(u16, Lang)> = None;
        // At most a few dozen ranges are looked at: the header is the
        // client's, and its length is not ours to bound.
        for range in accepted.split(',').take(32) {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let weight = parts
                .find_map(|parameter| parameter.trim().strip_prefix("q="))
                .map_or(1000, weight_per_mille);
            let primary = tag.split('-').next().unwrap_or_default();
            let Some(lang) = Lang::ALL
                .into_iter()
                .find(|lang| primary.eq_ignore_ascii_case(lang.code()))
            else {
                continue;
            };
            if weight > 0 && best.is_none_or(|(top, _)| weight > top) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The page's words in this language.
    #[must_use]
    pub(crate) fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
            Lang::De => &DE,
        }
    }
}

/// A `q` value (`0`, `0.8`, `1.000`) in thousandths; unreadable is `0`.
fn weight_per_mille(q: &str) -> u16 {
    let (whole, fraction) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    match (whole, digits.parse::<u16>()) {
        ("1", _) => 1000,
        ("0", Ok(thousandths)) => thousandths,
        _ => 0,
    }
}

/// Every string the shop shows, in one language.
#[derive(Debug)]
pub(crate) struct Words {
    pub(crate) title: &'static str,
    pub(crate) logged_in_as: &'static str,
    pub(crate) log_out: &'static str,
    pub(crate) user_id: &'static str,
    pub(crate) log_in: &'static str,
    pub(crate) cart: &'static str,
    pub(crate) empty_cart: &'static str,
    pub(crate) product: &'static str,
    pub(crate) quantity: &'static str,
    pub(crate) add: &'static str,
    pub(crate) add_heading: &'static str,
    pub(crate) language: &'static str,
    pub(crate) change: &'static str,
    pub(crate) account: &'static str,
    pub(crate) added: &'static str,
    pub(crate) welcome: &'static str,
    pub(crate) logged_out: &'static str,
    pub(crate) language_changed: &'static str,
    pub(crate) back: &'static str,
    pub(crate) name_missing: &'static str,
    pub(crate) name_too_long: &'static str,
    pub(crate) name_characters: &'static str,
    pub(crate) quantity_range: &'static str,
    pub(crate) line_full: &'static str,
    pub(crate) too_many_lines: &'static str,
    pub(crate) cart_full: &'static str,
    pub(crate) user_id_range: &'static str,
    pub(crate) unknown_language: &'static str,
    pub(crate) error_title: &'static str,
    pub(crate) bad_request: &'static str,
    pub(crate) forged: &'static str,
    pub(crate) not_found: &'static str,
    pub(crate) wrong_method: &'static str,
    pub(crate) conflict: &'static str,
    pub(crate) ended: &'static str,
    pub(crate) too_large: &'static str,
    pub(crate) not_a_form: &'static str,
    pub(crate) failed: &'static str,
    pub(crate) unavailable: &'static str,
}

impl Words {
    /// `template` with `{}` replaced by `values`, in order.
    #[must_use]
    pub(crate) fn fill(template: &str, values: &[&str]) -> String {
        let mut filled = String::with_capacity(template.len());
        let mut values = values.iter();
        let mut rest = template;
        while let Some(at) = rest.find("{}") {
            filled.push_str(&rest[..at]);
            filled.push_str(values.next().copied().unwrap_or_default());
            rest = &rest[at + 2..];
        }
        filled.push_str(rest);
        filled
    }
}

static EN: Words = Words {
    title: "Typed shop",
    logged_in_as: "Logged in as user {}",
    log_out: "Log out",
    user_id: "User id",
    log_in: "Log in",
    cart: "Cart",
    empty_cart: "Your cart is empty.",
    product: "Product",
    quantity: "Quantity",
    add: "Add to cart",
    add_heading: "Add a product",
    language: "Language",
    change: "Change",
    account: "Account",
    added: "Added {} × {} to your cart",
    welcome: "Welcome, user {}",
    logged_out: "You are logged out; your cart was emptied.",
    language_changed: "The shop now speaks English.",
    back: "Back to the shop",
    name_missing: "Enter a product name.",
    name_too_long: "A product name has at most {} characters.",
    name_characters: "A product name cannot contain control or invisible characters.",
    quantity_range: "Enter a quantity from 1 to {}.",
    line_full: "You already have {} × {}: one line of the cart holds at most {}.",
    too_many_lines: "Your cart holds at most {} different products.",
    cart_full: "Your cart is full: shorter product names would still fit.",
    user_id_range: "Enter a user id from 1 to {}.",
    unknown_language: "Choose English, Français or Deutsch.",
    error_title: "Error {}",
    bad_request: "The request could not be understood.",
    forged: "The form expired or did not come from this site: reload the page and try again.",
    not_found: "There is no page at this address.",
    wrong_method: "This address does not accept that kind of request.",
    conflict: "Another request changed your session at the same time; nothing was saved. Try again.",
    ended: "This session was ended by another request (a log out or a log in); nothing was saved. Reload the page to continue.",
    too_large: "That was more data than a form of this shop can hold.",
    not_a_form: "The request was not sent as a form.",
    failed: "Something went wrong on our side; nothing was saved.",
    unavailable: "The shop cannot reach its storage right now; try again in a moment.",
};

static FR: Words = Words {
    title: "Boutique typée",
    logged_in_as: "Connecté en tant qu’utilisateur {}",
    log_out: "Se déconnecter",
    user_id: "Identifiant",
    log_in: "Se connecter",
    cart: "Panier",
    empty_cart: "Votre panier est vide.",
    product: "Produit",
    quantity: "Quantité",
    add: "Ajouter au panier",
    add_heading: "Ajouter un produit",
    language: "Langue",
    change: "Changer",
    account: "Compte",
    added: "{} × {} ajouté à votre panier",
    welcome: "Bienvenue, utilisateur {}",
    logged_out: "Vous êtes déconnecté ; votre panier a été vidé.",
    language_changed: "La boutique parle maintenant français.",
    back: "Retour à la boutique",
    name_missing: "Saisissez un nom de produit.",
    name_too_long: "Un nom de produit compte au plus {} caractères.",
    name_characters: "Un nom de produit ne peut pas contenir de caractères de contrôle ou invisibles.",
    quantity_range: "Saisissez une quantité de 1 à {}.",
    line_full: "Vous avez déjà {} × {} : une ligne du panier en contient au plus {}.",
    too_many_lines: "Votre panier contient au plus {} produits différents.",
    cart_full: "Votre panier est plein : des noms plus courts y tiendraient.",
    user_id_range: "Saisissez un identifiant de 1 à {}.",
    unknown_language: "Choisissez English, Français ou Deutsch.",
    error_title: "Erreur {}",
    bad_request: "La requête n’a pas pu être comprise.",
    forged: "Le formulaire a expiré ou ne vient pas de ce site : rechargez la page et réessayez.",
    not_found: "Il n’y a pas de page à cette adresse.",
    wrong_method: "Cette adresse n’accepte pas ce type de requête.",
    conflict: "Une autre requête a modifié votre session au même moment ; rien n’a été enregistré. Réessayez.",
    ended: "Cette session a été terminée par une autre requête (une déconnexion ou une connexion) ; rien n’a été enregistré. Rechargez la page pour continuer.",
    too_large: "Ce formulaire contenait plus de données que la boutique n’en accepte.",
    not_a_form: "La requête n’a pas été envoyée comme un formulaire.",
    failed: "Une erreur est survenue de notre côté ; rien n’a été enregistré.",
    unavailable: "La boutique ne joint pas son stockage pour l’instant ; réessayez dans un moment.",
};

static DE: Words = Words {
    title: "Typisierter Laden",
    logged_in_as: "Angemeldet als Benutzer {}",
    log_out: "Abmelden",
    user_id: "Benutzer-ID",
    log_in: "Anmelden",
    cart: "Warenkorb",
    empty_cart: "Ihr Warenkorb ist leer.",
    product: "Produkt",
    quantity: "Menge",
    add: "In den Warenkorb",
    add_heading: "Produkt hinzufügen",
    language: "Sprache",
    change: "Ändern",
    account: "Konto",
    added: "{} × {} in den Warenkorb gelegt",
    welcome: "Willkommen, Benutzer {}",
    logged_out: "Sie sind abgemeldet; Ihr Warenkorb wurde geleert.",
    language_changed: "Der Laden spricht jetzt Deutsch.",
    back: "Zurück zum Laden",
    name_missing: "Geben Sie einen Produktnamen ein.",
    name_too_long: "Ein Produktname hat höchstens {} Zeichen.",
    name_characters: "Ein Produktname darf keine Steuer- oder unsichtbaren Zeichen enthalten.",
    quantity_range: "Geben Sie eine Menge von 1 bis {} ein.",
    line_full: "Sie haben schon {} × {}: eine Zeile des Warenkorbs fasst höchstens {}.",
    too_many_lines: "Ihr Warenkorb fasst höchstens {} verschiedene Produkte.",
    cart_full: "Ihr Warenkorb ist voll: kürzere Namen würden passen.",
    user_id_range: "Geben Sie eine Benutzer-ID von 1 bis {} ein.",
    unknown_language: "Wählen Sie English, Français oder Deutsch.",
    error_title: "Fehler {}",
    bad_request: "Die Anfrage war nicht verständlich.",
    forged: "Das Formular ist abgelaufen oder kam nicht von dieser Seite: laden Sie die Seite neu und versuchen Sie es noch einmal.",
    not_found: "Unter dieser Adresse gibt es keine Seite.",
    wrong_method: "Diese Adresse nimmt diese Art von Anfrage nicht an.",
    conflict: "Eine andere Anfrage hat Ihre Sitzung gleichzeitig geändert; nichts wurde gespeichert. Versuchen Sie es noch einmal.",
    ended: "Diese Sitzung wurde von einer anderen Anfrage beendet (einer Ab- oder Anmeldung); nichts wurde gespeichert. Laden Sie die Seite neu, um fortzufahren.",
    too_large: "Das waren mehr Daten, als ein Formular dieses Ladens fasst.",
    not_a_form: "Die Anfrage wurde nicht als Formular gesendet.",
    failed: "Bei uns ist etwas schiefgegangen; nichts wurde gespeichert.",
    unavailable: "Der Laden erreicht seinen Speicher gerade nicht; versuchen Sie es gleich noch einmal.",
};

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::{Lang, Words};

    fn asked(value: &'static str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", HeaderValue::from_static(value));
        Lang::negotiate(&headers)
    }

    #[test]
    fn the_best_weighted_language_the_shop_speaks_wins() {
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::En);
        assert_eq!(asked("de-CH"), Lang::De);
        assert_eq!(asked("es, fr;q=0.5, de;q=0.9"), Lang::De);
        assert_eq!(asked("fr;q=0, de;q=0.1"), Lang::De);
        assert_eq!(asked("ja, zh"), Lang::En);
        assert_eq!(asked("FR-ca;q=1.0"), Lang::Fr);
        assert_eq!(asked(";;;q=q,,,"), Lang::En);
    }

    #[test]
    fn templates_are_filled_in_order() {
        assert_eq!(Words::fill("{} × {}", &["2", "tea"]), "2 × tea");
        assert_eq!(Words::fill("none", &["x"]), "none");
        assert_eq!(Words::fill("{} and {}", &["one"]), "one and ");
    }
}
