//! Parsing of `#[session(...)]` attributes. Every attribute name lives here.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, Ident, LitInt, LitStr, Path, Token, Type};

use crate::duration;
use crate::errors::Errors;

const NAMESPACE: &str = "namespace";
const HANDLE: &str = "handle";
const CRATE: &str = "crate";
const DEBUG: &str = "debug";
const JSON_SCHEMA: &str = "json_schema";
const ON_DECODE_ERROR: &str = "on_decode_error";
const VERSION: &str = "version";
const MIGRATE_FROM: &str = "migrate_from";
const DEFAULT: &str = "default";
const KEY: &str = "key";
const EXPIRES_IN: &str = "expires_in";
const FLASH: &str = "flash";
const ROTATE_ID: &str = "rotate_id";
const CLEAR_ON_ROTATE: &str = "clear_on_rotate";
const SENSITIVE: &str = "sensitive";

const STRUCT_ATTRIBUTES: &[&str] = &[
    NAMESPACE,
    VERSION,
    MIGRATE_FROM,
    HANDLE,
    CRATE,
    DEBUG,
    JSON_SCHEMA,
    ON_DECODE_ERROR,
];
const FIELD_ATTRIBUTES: &[&str] = &[
    DEFAULT,
    KEY,
    EXPIRES_IN,
    FLASH,
    ROTATE_ID,
    CLEAR_ON_ROTATE,
    SENSITIVE,
    ON_DECODE_ERROR,
];

/// A value together with the attribute tokens it came from, for spans.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// What a value that does not decode turns into.
#[derive(Clone, Copy)]
pub(crate) enum DecodePolicy {
    Error,
    Reset,
}

/// `#[session(...)]` on the struct.
#[derive(Default)]
pub(crate) struct StructAttrs {
    pub(crate) namespace: Option<LitStr>,
    pub(crate) handle: Option<Ident>,
    pub(crate) krate: Option<Path>,
    pub(crate) debug: Option<Span>,
    pub(crate) json_schema: Option<Span>,
    pub(crate) on_decode_error: Option<Spanned<DecodePolicy>>,
    pub(crate) version: Option<Spanned<u32>>,
    pub(crate) migrate_from: Option<Type>,
}

/// How an absent field reads.
pub(crate) enum FieldDefault {
    /// `#[session(default)]`: the type's `Default`.
    Trait,
    /// `#[session(default = expr)]`.
    Expr(Box<Expr>),
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) default: Option<Spanned<FieldDefault>>,
    pub(crate) key: Option<LitStr>,
    pub(crate) expires_in: Option<Spanned<i64>>,
    pub(crate) flash: Option<Span>,
    pub(crate) rotate_id: Option<Span>,
    pub(crate) clear_on_rotate: Option<Span>,
    pub(crate) sensitive: Option<Span>,
    pub(crate) on_decode_error: Option<Spanned<DecodePolicy>>,
    /// An unknown attribute that reads like a misspelled `default`, already
    /// reported: saying the field lacks a default would only repeat it.
    pub(crate) misspelled_default: bool,
}

pub(crate) fn parse_struct_attrs(attrs: &[Attribute], errors: &mut Errors) -> StructAttrs {
    let mut out = StructAttrs::default();
    for attr in session_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident(NAMESPACE) {
                let value: LitStr = value_of(&meta, "a string", r#"namespace = "shop""#)?;
                set_once(&mut out.namespace, value, &meta, errors);
            } else if meta.path.is_ident(VERSION) {
                let literal: LitInt = value_of(&meta, "a whole number", "version = 2")?;
                let number: u32 = literal.base10_parse().map_err(|_| {
                    syn::Error::new_spanned(
                        &literal,
                        "`version` must be a whole number from 1 to 4294967295",
                    )
                })?;
                if number == 0 {
                    return Err(syn::Error::new_spanned(
                        &literal,
                        "`version` starts at 1: data stored without a version key is version 1",
                    ));
                }
                let value = Spanned {
                    value: number,
                    span: literal.span(),
                };
                set_once(&mut out.version, value, &meta, errors);
            } else if meta.path.is_ident(MIGRATE_FROM) {
                let value: Type = value_of(
                    &meta,
                    "the previous version's struct",
                    "migrate_from = ShopV1",
                )?;
                set_once(&mut out.migrate_from, value, &meta, errors);
            } else if meta.path.is_ident(HANDLE) {
                let value: Ident = value_of(&meta, "a type name", "handle = Cart")?;
                set_once(&mut out.handle, value, &meta, errors);
            } else if meta.path.is_ident(CRATE) {
                let literal: LitStr = value_of(&meta, "a string", r#"crate = "::my_sessions""#)?;
                let path: Path = literal.parse().map_err(|_| {
                    syn::Error::new_spanned(
                        &literal,
                        "`crate` must be a path such as \"::my_sessions\"",
                    )
                })?;
                set_once(&mut out.krate, path, &meta, errors);
            } else if meta.path.is_ident(DEBUG) {
                no_value(&meta)?;
                set_once(&mut out.debug, span, &meta, errors);
            } else if meta.path.is_ident(JSON_SCHEMA) {
                no_value(&meta)?;
                set_once(&mut out.json_schema, span, &meta, errors);
            } else if meta.path.is_ident(ON_DECODE_ERROR) {
                let policy = parse_policy(&meta)?;
                set_once(&mut out.on_decode_error, policy, &meta, errors);
            } else {
                unknown(&meta, STRUCT_ATTRIBUTES, FIELD_ATTRIBUTES, "field", errors)?;
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

pub(crate) fn parse_field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in session_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident(DEFAULT) {
                let value = if meta.input.peek(Token![=]) {
                    FieldDefault::Expr(Box::new(meta.value()?.parse()?))
                } else {
                    FieldDefault::Trait
                };
                set_once(&mut out.default, Spanned { value, span }, &meta, errors);
            } else if meta.path.is_ident(KEY) {
                let value: LitStr = value_of(&meta, "a string", r#"key = "user_id""#)?;
                set_once(&mut out.key, value, &meta, errors);
            } else if meta.path.is_ident(EXPIRES_IN) {
                let literal: LitStr = value_of(&meta, "a string", r#"expires_in = "15m""#)?;
                let seconds = duration::parse_seconds(&literal.value())
                    .map_err(|message| syn::Error::new_spanned(&literal, message))?;
                let value = Spanned {
                    value: seconds,
                    span: literal.span(),
                };
                set_once(&mut out.expires_in, value, &meta, errors);
            } else if meta.path.is_ident(FLASH) {
                no_value(&meta)?;
                set_once(&mut out.flash, span, &meta, errors);
            } else if meta.path.is_ident(ROTATE_ID) {
                no_value(&meta)?;
                set_once(&mut out.rotate_id, span, &meta, errors);
            } else if meta.path.is_ident(CLEAR_ON_ROTATE) {
                no_value(&meta)?;
                set_once(&mut out.clear_on_rotate, span, &meta, errors);
            } else if meta.path.is_ident(SENSITIVE) {
                no_value(&meta)?;
                set_once(&mut out.sensitive, span, &meta, errors);
            } else if meta.path.is_ident(ON_DECODE_ERROR) {
                let policy = parse_policy(&meta)?;
                set_once(&mut out.on_decode_error, policy, &meta, errors);
            } else {
                let suggestion =
                    unknown(&meta, FIELD_ATTRIBUTES, STRUCT_ATTRIBUTES, "struct", errors)?;
                out.misspelled_default |= suggestion == Some(DEFAULT);
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

fn session_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("session"))
}

/// Stores the first occurrence; reports a repeat at the repeated tokens.
fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(
            &meta.path,
            format!("duplicate session attribute `{}`", path_name(&meta.path)),
        );
    } else {
        *slot = Some(value);
    }
}

/// Parses `= value`, or says what the attribute takes (`what`), with an example.
fn value_of<T: syn::parse::Parse>(
    meta: &ParseNestedMeta<'_>,
    what: &str,
    example: &str,
) -> syn::Result<T> {
    let name = path_name(&meta.path);
    let value = meta.value().map_err(|_| {
        meta.error(format!(
            "`{name}` needs a value, as in `#[session({example})]`"
        ))
    })?;
    value.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{name}` takes {what}, as in `#[session({example})]`"),
        )
    })
}

fn no_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || !(meta.input.is_empty() || meta.input.peek(Token![,])) {
        return Err(meta.error(format!(
            "`{}` takes no value: write `#[session({})]`",
            path_name(&meta.path),
            path_name(&meta.path)
        )));
    }
    Ok(())
}

fn parse_policy(meta: &ParseNestedMeta<'_>) -> syn::Result<Spanned<DecodePolicy>> {
    let literal: LitStr = value_of(meta, "a string", r#"on_decode_error = "reset""#)?;
    let value = match literal.value().as_str() {
        "error" => DecodePolicy::Error,
        "reset" => DecodePolicy::Reset,
        other => {
            return Err(syn::Error::new_spanned(
                &literal,
                format!(
                    "unknown `on_decode_error` policy \"{other}\": expected \"error\" (the default) or \"reset\""
                ),
            ));
        }
    };
    Ok(Spanned {
        value,
        span: literal.span(),
    })
}

/// Reports an unknown attribute, naming the accepted ones (and the one it
/// looks like a misspelling of, which is returned), and skips its value so
/// the following attributes are still checked.
fn unknown(
    meta: &ParseNestedMeta<'_>,
    accepted: &[&'static str],
    other_place: &[&str],
    other_place_name: &str,
    errors: &mut Errors,
) -> syn::Result<Option<&'static str>> {
    let name = path_name(&meta.path);
    let expected = accepted
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let suggestion = closest(&name, accepted);
    let message = if other_place.contains(&name.as_str()) {
        format!(
            "`{name}` is a {other_place_name} attribute: move it to the {other_place_name}; here the accepted ones are {expected}"
        )
    } else if let Some(suggestion) = suggestion {
        format!(
            "unknown session attribute `{name}`: did you mean `{suggestion}`? (expected one of {expected})"
        )
    } else {
        format!("unknown session attribute `{name}`; expected one of {expected}")
    };
    errors.at(&meta.path, message);
    if meta.input.peek(Token![=]) {
        let _skipped: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|_| Ok(()))?;
    }
    Ok(suggestion)
}

/// The accepted name `name` is most likely a misspelling of: within a third
/// of its length in edits, as rustc suggests names.
fn closest(name: &str, accepted: &[&'static str]) -> Option<&'static str> {
    let limit = name.len().max(3) / 3;
    accepted
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = rows[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

#[cfg(test)]
mod tests {
    use super::{FIELD_ATTRIBUTES, STRUCT_ATTRIBUTES, closest};

    #[test]
    fn suggests_the_attribute_a_typo_was_meant_as() {
        assert_eq!(closest("defualt", FIELD_ATTRIBUTES), Some("default"));
        assert_eq!(closest("expire_in", FIELD_ATTRIBUTES), Some("expires_in"));
        assert_eq!(closest("sensitve", FIELD_ATTRIBUTES), Some("sensitive"));
        assert_eq!(closest("namespase", STRUCT_ATTRIBUTES), Some("namespace"));
    }

    #[test]
    fn suggests_nothing_for_unrelated_names() {
        assert_eq!(closest("secret", FIELD_ATTRIBUTES), None);
        assert_eq!(closest("prefix", STRUCT_ATTRIBUTES), None);
        assert_eq!(closest("ttl", FIELD_ATTRIBUTES), None);
    }
}
